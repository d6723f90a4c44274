package card

import (
	_ "embed"
	"fmt"
)

//go:embed ektp-demo-v1.json
var demoJSON []byte

// DemoTemplateID is the id inside DemoTemplateJSON.
const DemoTemplateID = "ektp-demo-v1"

// DemoTemplateJSON returns the bytes of an e-KTP-like demo template (the
// layout idea only, not the real card's security design). The bytes never
// change within a release, so their Hash is stable for simulators and jobs.
func DemoTemplateJSON() []byte { return append([]byte(nil), demoJSON...) }

// DemoTemplate returns DemoTemplateJSON parsed.
func DemoTemplate() *Template {
	t, err := Parse(demoJSON)
	if err != nil {
		// The demo is compiled in and covered by tests: this is a build bug.
		panic(fmt.Sprintf("card: embedded demo template: %v", err))
	}
	return t
}
