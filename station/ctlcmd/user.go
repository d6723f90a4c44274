package ctlcmd

import (
	"bufio"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"printstation/accounts"
	"printstation/station/localapi"
)

// Stdin is where secrets are read when it is not a terminal (tests set it).
var Stdin io.Reader = os.Stdin

// needsDaemon says whether a command talks to the daemon (and so needs
// the --user secret).
func needsDaemon(cmd string) bool {
	switch cmd {
	case "status", "batch", "attention", "printer", "stock", "user", "outbox":
		return true
	}
	return false
}

// dualControl says whether a stock operation needs a second person.
func dualControl(op string) bool { return op == "destroy" || op == "adjust" || op == "shift-close" }

// secretReader reads secrets without echo from a terminal, or one per
// line from a pipe: never from the command line, where ps and the shell's
// history would show them.
type secretReader struct {
	in     io.Reader
	prompt io.Writer
	lines  *bufio.Reader
}

func newSecretReader(in io.Reader, prompt io.Writer) *secretReader {
	return &secretReader{in: in, prompt: prompt}
}

func (s *secretReader) read(prompt string) ([]byte, error) {
	if f, ok := s.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(s.prompt, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.prompt)
		if err != nil {
			return nil, fmt.Errorf("reading the secret from the terminal: %w", err)
		}
		return b, nil
	}
	if s.lines == nil {
		s.lines = bufio.NewReaderSize(s.in, 1024)
	}
	line, err := s.lines.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return nil, fmt.Errorf("%sno secret on stdin (type it at a terminal, or give it as one line of stdin)", prompt)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, fmt.Errorf("%sthe secret is empty", prompt)
	}
	return []byte(line), nil
}

func (c *cli) user(args []string) error {
	const use = "user add|roles --role ROLE[,ROLE] NAME | user list | user disable|enable|unlock|passwd NAME | user map-uid NAME UID | user unmap-uid UID"
	if len(args) == 0 {
		return usageErr(use)
	}
	if args[0] == "list" {
		var as []accounts.Account
		if err := c.client.Do(c.ctx, "GET", "/v1/users", nil, &as); err != nil {
			return err
		}
		return c.emit(as, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLES\tSTATE\tUIDS")
			for _, a := range as {
				state := "active"
				switch {
				case a.Disabled:
					state = "disabled"
				case a.Locked:
					state = fmt.Sprintf("locked (%d wrong secrets)", a.Failures)
				}
				var roles, uids []string
				for _, r := range a.Roles {
					roles = append(roles, string(r))
				}
				for _, u := range a.UIDs {
					uids = append(uids, strconv.Itoa(u))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, strings.Join(roles, ","), state, dash(strings.Join(uids, ",")))
			}
			tw.Flush()
		})
	}
	fs := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	fs.SetOutput(c.errw)
	role := fs.String("role", "", "roles, comma-separated: operator, supervisor, technician, auditor, admin")
	rest := args[1:]
	// NAME may come before or after the flags.
	var pos []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return usageErr(use)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	b := localapi.UserBody{Roles: *role}
	action := args[0]
	switch action {
	case "add", "passwd":
		if len(pos) != 1 || (action == "add" && *role == "") {
			return usageErr(use)
		}
		b.Name = pos[0]
		s1, err := c.in.read(fmt.Sprintf("new secret for %s: ", b.Name))
		if err != nil {
			return err
		}
		if err := accounts.CheckSecret(s1); err != nil {
			return err
		}
		s2, err := c.in.read("the same secret again: ")
		if err != nil {
			return err
		}
		if string(s1) != string(s2) {
			return errors.New("the two secrets differ; nothing was changed")
		}
		b.Secret = string(s1)
	case "roles":
		if len(pos) != 1 || *role == "" {
			return usageErr(use)
		}
		b.Name = pos[0]
	case "disable", "enable", "unlock":
		if len(pos) != 1 {
			return usageErr(use)
		}
		b.Name = pos[0]
	case "map-uid", "unmap-uid":
		want := 2
		if action == "unmap-uid" {
			want = 1
		}
		if len(pos) != want {
			return usageErr(use)
		}
		u, err := strconv.Atoi(pos[len(pos)-1])
		if err != nil || u <= 0 {
			return fmt.Errorf("uid %q: a Unix user's number (id -u NAME shows it)", pos[len(pos)-1])
		}
		b.UID = &u
		if action == "map-uid" {
			b.Name = pos[0]
		}
		action = "map-uid"
	default:
		return usageErr(use)
	}
	var res map[string]string
	if err := c.client.Do(c.ctx, "POST", "/v1/users/"+action, b, &res); err != nil {
		return err
	}
	return c.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "user %s: %s done by %s\n", dash(b.Name), args[0], res["by"])
	})
}

// tls prints the SHA-256 fingerprint of the web page's certificate, so
// staff at other desks can check what their browser shows.
func (c *cli) tls(args []string) error {
	fs := flag.NewFlagSet("tls fingerprint", flag.ContinueOnError)
	fs.SetOutput(c.errw)
	cert := fs.String("cert", "", "the certificate file (PEM), e.g. /var/lib/printstation/web-cert.pem")
	if len(args) == 0 || args[0] != "fingerprint" || fs.Parse(args[1:]) != nil || *cert == "" {
		return usageErr("tls fingerprint --cert FILE")
	}
	fp, err := CertFingerprint(*cert)
	if err != nil {
		return err
	}
	return c.emit(map[string]string{"sha256": fp}, func(w io.Writer) { fmt.Fprintln(w, "SHA-256", fp) })
}

// CertFingerprint reads a PEM certificate file and returns its SHA-256
// fingerprint as colon-separated hex, as browsers show it.
func CertFingerprint(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("certificate: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return "", fmt.Errorf("certificate %s: no PEM CERTIFICATE block", path)
	}
	if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
		return "", fmt.Errorf("certificate %s: %w", path, err)
	}
	sum := sha256.Sum256(blk.Bytes)
	hex := make([]string, len(sum))
	for i, x := range sum {
		hex[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(hex, ":"), nil
}
