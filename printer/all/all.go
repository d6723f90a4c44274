// Package all registers every printer driver and transport this project
// ships. The daemon and the CLI import it for its side effects:
//
//	import _ "printstation/printer/all"
package all

import (
	_ "printstation/printer/evolis"
	_ "printstation/printer/ipp"
	_ "printstation/printer/tcp"
	_ "printstation/printer/usb"
)
