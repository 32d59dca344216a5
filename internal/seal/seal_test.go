package seal

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func sealer(now *time.Time, secrets ...[]byte) Sealer {
	return Sealer{Secret: func() []byte { return secrets[0] }, Secrets: func() [][]byte { return secrets },
		Now: func() time.Time { return *now }}
}

func TestSealOpen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	old := sealer(&now, a)
	v, err := old.Seal("tx", map[string]string{"k": "v"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		s       Sealer
		purpose string
		value   string
		advance time.Duration
		wantErr error
	}{
		{name: "opens with the secret it was sealed with", s: old, purpose: "tx", value: v},
		{name: "opens after a rotation while the old secret is still accepted", s: sealer(&now, b, a), purpose: "tx", value: v},
		{name: "does not open once the old secret is gone", s: sealer(&now, b), purpose: "tx", value: v, wantErr: ErrInvalid},
		{name: "does not open for another purpose", s: old, purpose: "enroll", value: v, wantErr: ErrInvalid},
		{name: "does not open after it expires", s: old, purpose: "tx", value: v, advance: time.Minute, wantErr: ErrInvalid},
		{name: "does not open when tampered", s: old, purpose: "tx", value: v[:len(v)-2] + "AA", wantErr: ErrInvalid},
		{name: "does not open garbage", s: old, purpose: "tx", value: "!!", wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saved := now
			now = now.Add(tt.advance)
			defer func() { now = saved }()
			var got map[string]string
			err := tt.s.Open(tt.purpose, tt.value, &got)
			if !errors.Is(err, tt.wantErr) || (err == nil && got["k"] != "v") {
				t.Fatalf("Open = %v, %v; want %v", got, err, tt.wantErr)
			}
		})
	}
}

func TestCheckMACAcceptsEveryCurrentSecret(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	sum := sealer(&now, a).MAC("csrf", []byte("cookie"))
	if !sealer(&now, b, a).CheckMAC("csrf", []byte("cookie"), sum) {
		t.Error("a MAC under the previous secret is refused")
	}
	if sealer(&now, b).CheckMAC("csrf", []byte("cookie"), sum) {
		t.Error("a MAC under an unknown secret is accepted")
	}
	if sealer(&now, a).CheckMAC("other", []byte("cookie"), sum) {
		t.Error("a MAC for another purpose is accepted")
	}
}
