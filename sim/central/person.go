package central

// jobSeed is the synthetic person's seed of a station's n-th job.
func jobSeed(station string, n int) uint64 {
	seed := uint64(len(station))*1_000_003 + uint64(n)
	for _, c := range station {
		seed = seed*31 + uint64(c)
	}
	return seed
}

// PersonOf is the synthetic person the server issues as a station's n-th
// job (counting from 1), for tests that look a citizen up by NIK or name.
func PersonOf(station string, n int) *Person {
	return NewPerson(jobSeed(station, n), regencyFor(station))
}
