package jobqueue_test

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"printstation/jobqueue"
	"printstation/sim/central"
)

// FuzzVerify feeds arbitrary envelopes to the verifier: it must never panic
// and must either accept a job for this station or refuse with a reason.
func FuzzVerify(f *testing.F) {
	key := seedKey(1)
	fx := &fixture{key: key, kid: "issuer-2026-1"}
	good, err := central.Sign(key, fx.kid, fx.spec(1).Payload())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJFZERTQSIsImtpZCI6Imlzc3Vlci0yMDI2LTEifQ.e30.AAAA")
	f.Add(good[:len(good)/2])
	raw, _ := central.SignRaw(key, fx.kid, []byte(`{"job_id":"J-1","station":"ST-3201-01","kind":"issue","nbf":1,"exp":99999999999,"chip":{"files":[{"fid":"01","data":"AA=="}]}}`))
	f.Add(raw)
	v := &jobqueue.Verifier{Station: station, Keys: map[string]ed25519.PublicKey{fx.kid: key.Public().(ed25519.PublicKey)}, Now: func() time.Time { return t0 }}
	f.Fuzz(func(t *testing.T, s string) {
		p, _, err := v.Verify(s)
		if err != nil {
			var ref *jobqueue.Refusal
			if !errors.As(err, &ref) || ref.Reason == "" || ref.Code == "" {
				t.Fatalf("error is not a refusal with a reason: %v", err)
			}
			return
		}
		if p.Station != station || p.JobID == "" || len(s) > jobqueue.DefaultLimits.EnvelopeBytes {
			t.Fatalf("accepted a job that is not for this station: %+v", p.JobID)
		}
	})
}
