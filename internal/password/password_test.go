package password

import (
	"errors"
	"strings"
	"testing"
)

// cheapParams keeps tests fast; production parameters are exercised once.
const cheapMemoryKiB = 64

func cheapParams() Params { return Params{MemoryKiB: cheapMemoryKiB, Iterations: 1, Parallelism: 1} }

// knownAnswer is the argon2id reference test vector (password "password",
// salt "somesalt", m=64, t=1, p=1, 24-byte tag) in PHC form.
const knownAnswer = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$ZVrRXqxlLcWfcXCnMyv0m4Rpvh/bnCi7"

func TestHash(t *testing.T) {
	t.Run("default_params_produce_phc_string_that_verifies", func(t *testing.T) {
		enc, err := Hash("correct horse", DefaultParams())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("Hash = %q, want PHC argon2id prefix with default params", enc)
		}
		if ok, err := Verify("correct horse", enc); !ok || err != nil {
			t.Fatalf("Verify(right password) = %v, %v; want true, nil", ok, err)
		}
	})
	t.Run("same_password_gets_distinct_salts", func(t *testing.T) {
		a, err := Hash("pw", cheapParams())
		if err != nil {
			t.Fatal(err)
		}
		b, err := Hash("pw", cheapParams())
		if err != nil {
			t.Fatal(err)
		}
		if a == b {
			t.Fatalf("two hashes of the same password are equal: %q", a)
		}
	})
	for _, tc := range []struct {
		name string
		p    Params
	}{
		{"zero_parallelism_rejected", Params{MemoryKiB: 64, Iterations: 1, Parallelism: 0}},
		{"zero_iterations_rejected", Params{MemoryKiB: 64, Iterations: 0, Parallelism: 1}},
		{"memory_below_8KiB_per_lane_rejected", Params{MemoryKiB: 15, Iterations: 1, Parallelism: 2}},
		{"memory_above_cap_rejected", Params{MemoryKiB: MaxMemoryKiB + 1, Iterations: 1, Parallelism: 1}},
		{"iterations_above_cap_rejected", Params{MemoryKiB: 64, Iterations: MaxIterations + 1, Parallelism: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Hash("pw", tc.p); !errors.Is(err, ErrParams) {
				t.Fatalf("Hash(%+v) error = %v, want ErrParams", tc.p, err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	enc, err := Hash("s3cret", cheapParams())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		pw, enc string
		want    bool
		wantErr bool
	}{
		{"right_password_matches", "s3cret", enc, true, false},
		{"wrong_password_does_not_match", "s3cret!", enc, false, false},
		{"empty_password_does_not_match", "", enc, false, false},
		{"reference_vector_matches", "password", knownAnswer, true, false},
		{"reference_vector_rejects_other_password", "passwore", knownAnswer, false, false},
		{"params_are_read_from_encoded_string", "password", knownAnswer, true, false},
		{"empty_string_is_malformed", "pw", "", false, true},
		{"argon2i_is_malformed", "pw", strings.Replace(knownAnswer, "argon2id", "argon2i", 1), false, true},
		{"other_version_is_malformed", "pw", strings.Replace(knownAnswer, "v=19", "v=16", 1), false, true},
		{"missing_version_is_malformed", "pw", strings.Replace(knownAnswer, "v=19$", "", 1), false, true},
		{"reordered_params_are_malformed", "pw", strings.Replace(knownAnswer, "m=64,t=1", "t=1,m=64", 1), false, true},
		{"extra_param_is_malformed", "pw", strings.Replace(knownAnswer, "p=1", "p=1,keyid=x", 1), false, true},
		{"leading_zero_is_malformed", "pw", strings.Replace(knownAnswer, "m=64", "m=064", 1), false, true},
		{"signed_number_is_malformed", "pw", strings.Replace(knownAnswer, "t=1", "t=+1", 1), false, true},
		{"zero_iterations_is_malformed", "pw", strings.Replace(knownAnswer, "t=1", "t=0", 1), false, true},
		{"zero_parallelism_is_malformed", "pw", strings.Replace(knownAnswer, "p=1", "p=0", 1), false, true},
		{"parallelism_overflow_is_malformed", "pw", strings.Replace(knownAnswer, "p=1", "p=256", 1), false, true},
		{"huge_memory_is_malformed", "pw", strings.Replace(knownAnswer, "m=64", "m=4294967295", 1), false, true},
		{"padded_base64_is_malformed", "pw", strings.Replace(knownAnswer, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1), false, true},
		{"non_canonical_base64_is_malformed", "pw", strings.Replace(knownAnswer, "c29tZXNhbHQ", "c29tZXNhbHR", 1), false, true},
		{"line_break_in_base64_is_malformed", "pw", strings.Replace(knownAnswer, "c29tZXNhbHQ", "c29t\nZXNhbHQ", 1), false, true},
		{"short_salt_is_malformed", "pw", strings.Replace(knownAnswer, "c29tZXNhbHQ", "c29tZQ", 1), false, true},
		{"short_hash_is_malformed", "pw", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$ZVrRXqxl", false, true},
		{"missing_hash_is_malformed", "pw", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ", false, true},
		{"trailing_field_is_malformed", "pw", knownAnswer + "$x", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Verify(tc.pw, tc.enc)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("Verify(%q, %q) = %v, %v; want %v, error=%v", tc.pw, tc.enc, got, err, tc.want, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	enc, err := Hash("pw", cheapParams())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		enc  string
		p    Params
		want bool
	}{
		{"same_params_need_no_rehash", enc, cheapParams(), false},
		{"more_memory_needs_rehash", enc, Params{MemoryKiB: 128, Iterations: 1, Parallelism: 1}, true},
		{"more_iterations_needs_rehash", enc, Params{MemoryKiB: 64, Iterations: 2, Parallelism: 1}, true},
		{"more_lanes_needs_rehash", enc, Params{MemoryKiB: 64, Iterations: 1, Parallelism: 2}, true},
		{"foreign_lengths_need_rehash", knownAnswer, cheapParams(), true},
		{"malformed_needs_rehash", "plaintext", cheapParams(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NeedsRehash(tc.enc, tc.p); got != tc.want {
				t.Fatalf("NeedsRehash(%q, %+v) = %v, want %v", tc.enc, tc.p, got, tc.want)
			}
		})
	}
}

// fuzzMaxMemoryKiB and fuzzMaxIterations bound the work per fuzz input;
// larger (but valid) parameters are only parsed, not computed.
const (
	fuzzMaxMemoryKiB  = 1024
	fuzzMaxIterations = 4
)

func FuzzVerify(f *testing.F) {
	f.Add("password", knownAnswer)
	f.Add("pw", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$ZVrRXqxlLcWfcXCnMyv0m4Rpvh/bnCi7")
	f.Add("", "")
	f.Add("pw", "$argon2id$")
	f.Add("pw", "$argon2id$v=19$m=8,t=1,p=1$$")
	f.Add("pw", "$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHQ$c29tZXNhbHQ")
	f.Fuzz(func(t *testing.T, pw, enc string) {
		h, err := decode(enc)
		if err == nil && (h.params.MemoryKiB > fuzzMaxMemoryKiB || h.params.Iterations > fuzzMaxIterations) {
			t.Skip("parameters valid but too costly for fuzzing")
		}
		ok, verr := Verify(pw, enc)
		if (err == nil) != (verr == nil) {
			t.Fatalf("decode error %v but Verify error %v", err, verr)
		}
		if verr != nil && ok {
			t.Fatalf("Verify returned true with error %v", verr)
		}
		if verr != nil && !NeedsRehash(enc, cheapParams()) {
			t.Fatalf("malformed hash %q does not need rehash", enc)
		}
	})
}
