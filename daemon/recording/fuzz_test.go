package recording

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

// FuzzWire feeds arbitrary DataRow and RowDescription bodies: the
// recording must stay valid JSON lines that Read accepts, whatever the
// server sends.
func FuzzWire(f *testing.F) {
	f.Add(dataRow(f, []byte("1"), nil, []byte{0xff, 0}), []byte{0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, int16(1))
	f.Add([]byte{0, 1, 0xff, 0xff, 0xff, 0xff}, []byte{}, int16(0))
	f.Add([]byte{0xff, 0xff}, []byte{0x7f, 0xff}, int16(-1))
	r := mustNew(f, Config{MaxValueBytes: 16})
	n := 0
	f.Fuzz(func(t *testing.T, row, desc []byte, format int16) {
		n++
		id := fmt.Sprintf("fuzz-%d", n)
		s := mustOpen(t, r, id)
		s.RowDescription(1, desc)
		s.DataRow(1, row, nil)
		s.DataRow(1, row, []int16{format})
		s.CopyData(1, row)
		s.Result(1, string(desc), string(row), string(row))
		s.Close(string(row))
		path := r.Path(id)
		defer os.Remove(path)
		for _, l := range lines(t, path) {
			if _, err := json.Marshal(l); err != nil {
				t.Fatal(err)
			}
		}
		rec, err := ReadFile(path, ReadOptions{MaxRows: -1})
		if err != nil || rec.BadLines != 0 || rec.End == nil {
			t.Fatalf("read back: %v %+v", err, rec)
		}
	})
}
