package card

// SetFixedScaler switches fixedScaler on or off, for the external tests'
// same-run comparisons.
func SetFixedScaler(on bool) { useFixed = on }
