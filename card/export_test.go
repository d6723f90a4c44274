package card

// SetFixedScaler switches fixedScaler on or off, for the external tests'
// same-run comparisons.
func SetFixedScaler(on bool) { useFixed = on }

// SetPrevious makes Render draw as before this pass (x/image's scaler,
// shapes rasterized on every card, glyphs rasterized on every card and
// composited pixel by pixel in 16-bit arithmetic), or as now.
func SetPrevious(prev bool) {
	useFixed, cacheShapes, cacheGlyphs, glyphOver = !prev, !prev, !prev, glyphOverGray
	if prev {
		glyphOver = glyphOverGrayPrev
	}
}
