package imapd

import "testing"

// The cache holds at most its budget: entries beyond half of it start a
// new generation and the oldest goes; an entry read from the old
// generation survives the next switch; entries over the item limit are
// not kept.
func TestFileCacheBounded(t *testing.T) {
	c := newFileCache[hdrKey, int](1000)
	key := func(i int) hdrKey { return hdrKey{folder: 1, uid: uint32(i), key: "k"} }
	for i := 0; i < 5; i++ {
		c.put(key(i), i, 100) // generation 1: 0..4 (500 bytes)
	}
	c.put(key(5), 5, 100) // switches: 0..4 old, 5 current
	if v, ok := c.get(key(0)); !ok || v != 0 {
		t.Fatalf("entry 0 of the old generation: %v %v", v, ok)
	}
	for i := 6; i < 9; i++ {
		c.put(key(i), i, 100) // current: 5, 0, 6, 7, 8
	}
	c.put(key(9), 9, 100) // switches again: 1..4 dropped
	for i := 1; i < 5; i++ {
		if _, ok := c.get(key(i)); ok {
			t.Errorf("entry %d still cached after two switches", i)
		}
	}
	for _, i := range []int{0, 5, 6, 7, 8, 9} {
		if v, ok := c.get(key(i)); !ok || v != i {
			t.Errorf("entry %d: %v %v", i, v, ok)
		}
	}
	if n := len(c.cur) + len(c.old); n*100 > 1000 {
		t.Errorf("%d entries of 100 bytes in a 1000-byte cache", n)
	}
	c.put(key(100), 100, fileCacheMaxItem+1)
	if _, ok := c.get(key(100)); ok {
		t.Error("an entry over the item limit was kept")
	}
}

// An entry is found under its folder, UID and file key only: the same
// UID with another file (adopted again) is another entry.
func TestFileCacheKey(t *testing.T) {
	c := newFileCache[hdrKey, int](1000)
	c.put(hdrKey{folder: 1, uid: 5, key: "a"}, 1, 10)
	if _, ok := c.get(hdrKey{folder: 1, uid: 5, key: "b"}); ok {
		t.Error("another file under the same UID hit the cache")
	}
	if _, ok := c.get(hdrKey{folder: 2, uid: 5, key: "a"}); ok {
		t.Error("another folder's UID hit the cache")
	}
	c.put(hdrKey{folder: 1, uid: 5, key: "b"}, 2, 10)
	if v, ok := c.get(hdrKey{folder: 1, uid: 5, key: "b"}); !ok || v != 2 {
		t.Errorf("the new file: %v %v", v, ok)
	}
}
