package mda

// Pending is how many deliveries wait for the next group transaction
// (tests only).
func (g *GroupIndex) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}
