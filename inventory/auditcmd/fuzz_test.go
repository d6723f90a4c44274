package auditcmd

import "testing"

// The auditor types these counts on the command line.
func FuzzParseCounts(f *testing.F) {
	for _, s := range []string{"storage=10,p1=3", "", "p1=", "=3", "a=1,a=2", "p1=-1", "x=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseCounts(s)
		if err != nil {
			return
		}
		for k, v := range m {
			if k == "" || v < 0 {
				t.Fatalf("%q gave %q=%d", s, k, v)
			}
		}
	})
}

func TestParseCounts(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]int64
		ok   bool
	}{
		{"storage=10, p1=3", map[string]int64{"storage": 10, "p1": 3}, true},
		{"", map[string]int64{}, true},
		{"p1", nil, false},
		{"p1=x", nil, false},
		{"p1=-2", nil, false},
		{"p1=1,p1=2", nil, false},
	}
	for _, c := range cases {
		got, err := parseCounts(c.in)
		if (err == nil) != c.ok || len(got) != len(c.want) {
			t.Errorf("%q: %v %v", c.in, got, err)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%q: %s=%d, want %d", c.in, k, got[k], v)
			}
		}
	}
}
