package mda

// Pending is how many deliveries wait for the next group transaction
// (tests only).
func (g *GroupIndex) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// Compiled is how many compiled scripts the filter keeps, generated
// vacation scripts included (tests only).
func (f *Filter) Compiled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cache) + len(f.vacCache)
}
