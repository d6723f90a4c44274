package locales

import (
	"testing"

	"printstation/station/guide"
)

// Every row of the printer guidance table has its words in both languages
// here, with nothing left for the station to fill in: printstationctl
// prints them as they are.
func TestGuidanceWordsInBothLanguages(t *testing.T) {
	for _, g := range guide.Guidance {
		for _, lang := range []string{"id", "en"} {
			s, ok := Text(lang, g.Message)
			if !ok || s == "" {
				t.Errorf("%s: no words for %s (%s)", lang, g.Key, g.Message)
			}
			if containsPlaceholder(s) {
				t.Errorf("%s: %s has a placeholder the CLI does not fill: %q", lang, g.Message, s)
			}
		}
	}
	if s, _ := Text("id", "tech_button_test_card"); s != "Kartu uji" {
		t.Errorf("Indonesian test card button: %q", s)
	}
}

func containsPlaceholder(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '{' && s[i+1] == '{' {
			return true
		}
	}
	return false
}
