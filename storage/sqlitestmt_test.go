package storage

import (
	"path/filepath"
	"testing"
)

// A statement whose rows are still being read is not reused: running the
// same query meanwhile gets rows of its own, and both read everything.
func TestKeptStatementIsNotSharedWhileItsRowsAreOpen(t *testing.T) {
	db := openSQLite(sqliteDSN(filepath.Join(t.TempDir(), "s.db"), false))
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE n (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := db.Exec(`INSERT INTO n (v) VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const q = `SELECT v FROM n WHERE v >= ? ORDER BY v`
	outer, err := conn.QueryContext(t.Context(), q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for outer.Next() {
		var v int
		if err := outer.Scan(&v); err != nil {
			t.Fatal(err)
		}
		var inner []int
		rows, err := conn.QueryContext(t.Context(), q, v)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var w int
			if err := rows.Scan(&w); err != nil {
				t.Fatal(err)
			}
			inner = append(inner, w)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if len(inner) != 3-v {
			t.Fatalf("inner query from %d read %v", v, inner)
		}
		got = append(got, v)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("outer query read %v, want 0 1 2", got)
	}
	// Kept, and free again for the next run.
	err = conn.Raw(func(dc any) error {
		if cs, ok := dc.(*stmtCacheConn).stmts[q]; !ok || cs.busy {
			t.Errorf("query kept %v, busy %v; want kept and free", ok, ok && cs.busy)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
