// Package deskbed tests the desk encoder flow (encoder = "desk") on the
// real parts: pcscd with a virtual card (vicc) standing in for the reader
// on the operator's desk, and ippeveprinter as the print queue. It has no
// code of its own: its tests take the PC/SC test bed exclusively.
package deskbed
