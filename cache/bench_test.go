package cache

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "cache"), "tokens.json")
	if err != nil {
		b.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	err = s.Update(context.Background(), func(m map[string]Entry) error {
		for i := range 20 {
			reg := fmt.Sprintf("registry%d.azurecr.io", i)
			m[Key(reg, "environment")] = Entry{
				Registry: reg, Kind: "environment", Username: "00000000-0000-0000-0000-000000000000",
				Secret: fmt.Sprintf("%01500d", i), ExpiresAt: exp, // about the size of an ACR refresh token
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkGet is the warm path of every docker pull: one Get on a file of
// 20 entries.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	key := Key("registry7.azurecr.io", "environment")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := s.Get(key); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkUpdate changes one entry per Update, so every Update writes and
// fsyncs (dominated by the disk).
func BenchmarkUpdate(b *testing.B) {
	s := benchStore(b)
	key := Key("registry7.azurecr.io", "environment")
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		err := s.Update(ctx, func(m map[string]Entry) error {
			e := m[key]
			e.Username = fmt.Sprint(i)
			m[key] = e
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
