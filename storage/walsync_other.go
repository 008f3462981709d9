//go:build !linux

package storage

import "os"

func syncData(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Sync()
}
