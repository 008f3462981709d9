package storage

import (
	"sync"

	"modernc.org/libc"
)

// pinSQLiteAllocator keeps the first pinPages pages of every size class of
// the allocator behind the pure-Go SQLite (modernc.org/libc's malloc, which
// is modernc.org/memory) mapped for the life of the process. That allocator
// carves each class out of 1 MiB pages obtained with mmap, and munmaps a
// page as soon as its last slot is freed. SQLite allocates and frees its
// parser and statement structures on every statement (the driver prepares
// each execution anew), so pages went through an mmap and a munmap per
// statement or two: 10-12% of hashcart's CPU in the pipeline benchmark's
// profile, ~2,400 mmap/munmap calls in 2 s at 250 events/s. Holding one
// slot in each of the first two pages of a class keeps them mapped (one
// page was not enough in the server: long-lived objects of the connections
// fill the first page of the larger classes); the other slots stay free for
// SQLite. The cost is about 12 MB of resident memory, paid once.
func pinSQLiteAllocator() {
	pinOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		// Classes are powers of two from 16 B up to a quarter of a page
		// (256 KiB); larger allocations get a mapping of their own.
		for log := 4; log <= 18; log++ {
			pages := map[uintptr]bool{}
			var spare []uintptr
			for len(pages) < pinPages {
				p := libc.Xmalloc(tls, 1<<log)
				if p == 0 {
					break
				}
				if page := p &^ (allocatorPage - 1); !pages[page] {
					pages[page] = true
					pinned = append(pinned, p)
				} else {
					spare = append(spare, p)
				}
			}
			for _, p := range spare {
				libc.Xfree(tls, p)
			}
		}
	})
}

// allocatorPage is modernc.org/memory's page size on Unix (1 MiB).
const allocatorPage = 1 << 20

// pinPages is how many pages of each class stay mapped.
var pinPages = 2

var (
	pinOnce sync.Once
	pinned  []uintptr // never freed
)
