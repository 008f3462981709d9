package storage

import (
	"os"
	"syscall"
)

// syncData is fdatasync, as SQLite itself syncs its WAL on Linux.
func syncData(f *os.File) error {
	if f == nil {
		return nil
	}
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
