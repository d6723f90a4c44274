package ctlcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"printstation/station/localapi"
)

// outbox shows what has not reached the centre yet.
func (c *cli) outbox(args []string) error {
	limit := 50
	switch {
	case len(args) == 0:
	case len(args) == 2 && args[0] == "--limit":
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 || n > localapi.OutboxMaxLimit {
			return usageErr(fmt.Sprintf("outbox [--limit N]: N from 1 to %d", localapi.OutboxMaxLimit))
		}
		limit = n
	default:
		return usageErr("outbox [--limit N]")
	}
	var r localapi.OutboxReport
	if err := c.client.Do(c.ctx, "GET", "/v1/outbox?limit="+strconv.Itoa(limit), nil, &r); err != nil {
		return err
	}
	return c.emit(r, func(w io.Writer) {
		if r.Pending == 0 {
			fmt.Fprintln(w, "nothing waits for the centre: every outcome, checkpoint and stock report was acknowledged")
			return
		}
		fmt.Fprintf(w, "%d report(s) wait for the centre", r.Pending)
		if !r.LastOutcomeAck.IsZero() {
			fmt.Fprintf(w, "; the centre last acknowledged an outcome %s ago", time.Since(r.LastOutcomeAck).Round(time.Second))
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tKEY\tQUEUED\tTRIES\tLAST ERROR")
		for _, it := range r.Items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", it.Kind, it.Key, it.CreatedAt.Local().Format("2006-01-02 15:04:05"), it.Attempts, dash(it.LastError))
		}
		tw.Flush()
		if len(r.Items) < r.Pending {
			fmt.Fprintf(w, "(the oldest %d shown; --limit N for more)\n", len(r.Items))
		}
	})
}

// delegate runs a subcommand another package implements. Under --json its
// stdout must still be one JSON document when it fails without writing
// one: then the error document carries what it said on stderr.
func (c *cli) delegate(main func(context.Context, []string, io.Writer, io.Writer) int, args []string) int {
	if !c.json {
		return main(c.ctx, args, c.out, c.errw)
	}
	var out, errs bytes.Buffer
	code := main(c.ctx, args, &out, io.MultiWriter(c.errw, &errs))
	if code != 0 && len(bytes.TrimSpace(out.Bytes())) == 0 {
		msg := strings.TrimSpace(errs.String())
		if i := strings.LastIndex(msg, "\n"); i >= 0 && code != 2 {
			msg = msg[i+1:] // the last line says what went wrong
		}
		c.jsonError(errors.New(msg), code)
		return code
	}
	c.out.Write(out.Bytes())
	return code
}
