package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stepup-oidc/stepup/internal/authn"
	"github.com/stepup-oidc/stepup/internal/store"
)

// filled returns a T with every field set to a distinct non-zero value, so
// that a field added to a store type but not persisted by a backend fails
// testEveryField.
func filled[T any](seed int) T {
	var v T
	fill(reflect.ValueOf(&v).Elem(), seed)
	return v
}

func fill(v reflect.Value, seed int) {
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(at(time.Duration(seed) * time.Second)))
		return
	case reflect.TypeFor[time.Duration]():
		v.SetInt(int64(seed) * 1001)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			switch fv.Kind() {
			case reflect.String:
				// Lower case: usernames come back case-folded.
				fv.SetString(strings.ToLower(fmt.Sprintf("%s-%d", f.Name, seed)))
			default:
				fill(fv, seed+i+1)
			}
		}
	case reflect.String:
		v.SetString(fmt.Sprint("s-", seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed % 256))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), seed*10+i)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, seed)
		fill(e, seed+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), seed)
		v.Set(p)
	}
}

// testEveryField stores values of every store type with all fields set and
// reads them back whole.
func testEveryField(t *testing.T, s store.Store) {
	ctx := testCtx(t)

	c := filled[store.Client](1)
	must(t, s.CreateClient(ctx, c))
	gc, err := s.GetClient(ctx, c.ID)
	must(t, err)
	diff(t, "client", c, gc)

	u := filled[store.User](2)
	must(t, s.CreateUser(ctx, u))
	gu, err := s.GetUser(ctx, u.ID)
	must(t, err)
	diff(t, "user", u, gu)

	sess := filled[store.Session](3)
	sess.Events = []authn.Event{filled[authn.Event](31), filled[authn.Event](32)}
	must(t, s.CreateSession(ctx, sess))
	gs, err := s.GetSession(ctx, sess.ID)
	must(t, err)
	diff(t, "session", sess, gs)

	// Created consumed, used or revoked: those fields are stored as given.
	code := filled[store.Code](4)
	must(t, s.CreateCode(ctx, code))
	gcode, err := s.ConsumeCode(ctx, code.Hash, "other", at(time.Hour))
	wantErr(t, "ConsumeCode of a code created consumed", err, store.ErrAlreadyUsed)
	diff(t, "code", code, gcode)

	g := filled[store.Grant](5)
	must(t, s.CreateGrant(ctx, g))
	gg, err := s.GetGrant(ctx, g.ID)
	must(t, err)
	diff(t, "grant", g, gg)

	rt := filled[store.RefreshToken](6)
	must(t, s.CreateRefreshToken(ctx, rt))
	grt, err := s.GetRefreshToken(ctx, rt.Hash)
	must(t, err)
	diff(t, "refresh token", rt, grt)

	k := filled[store.Key](7)
	must(t, s.CreateKey(ctx, k))
	ks, err := s.ListKeys(ctx)
	must(t, err)
	diff(t, "keys", []store.Key{k}, ks)

	cred := filled[store.Credential](8)
	must(t, s.CreateCredential(ctx, cred))
	gcred, err := s.GetCredential(ctx, cred.ID)
	must(t, err)
	diff(t, "credential", cred, gcred)

	l := filled[store.Link](9)
	must(t, s.CreateLink(ctx, l))
	gl, err := s.GetLink(ctx, l.Upstream, l.Subject)
	must(t, err)
	diff(t, "link", l, gl)

	pr := filled[store.PushedRequest](10)
	must(t, s.CreatePushedRequest(ctx, pr))
	gpr, err := s.ConsumePushedRequest(ctx, pr.Hash)
	must(t, err)
	diff(t, "pushed request", pr, gpr)

	cr := filled[store.CIBARequest](11)
	cc := ciba(t, s)
	must(t, cc.CreateCIBARequest(ctx, cr))
	gcr, err := cc.GetCIBARequest(ctx, cr.ID)
	must(t, err)
	diff(t, "ciba request", cr, gcr)
}
