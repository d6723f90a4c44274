// Package version holds the build's version, set with
// -ldflags "-X printstation/version.Version=..." by release builds.
package version

// Version of printstation.
var Version = "0.1.0-dev"
