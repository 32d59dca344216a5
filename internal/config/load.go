package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Environment variable names.
const (
	// EnvPrefix starts every configuration variable. Each scalar key path is
	// upper-cased and joined with "_": tokens.access_token_ttl is
	// STEPUP_TOKENS_ACCESS_TOKEN_TTL. The lists clients and users are set
	// whole by STEPUP_CLIENTS and STEPUP_USERS as a YAML or JSON sequence.
	EnvPrefix = "STEPUP_"
	// EnvConfig is reserved for the path of the configuration file. Load
	// ignores it (the caller decides the path), so it is not reported as
	// unknown.
	EnvConfig = EnvPrefix + "CONFIG"
)

// isTestVariable reports whether name belongs to the test suites
// (STEPUP_TEST_*, STEPUP_REQUIRE_*, STEPUP_CHROME), not to the configuration.
func isTestVariable(name string) bool {
	return strings.HasPrefix(name, EnvPrefix+"TEST_") || strings.HasPrefix(name, EnvPrefix+"REQUIRE_") ||
		name == EnvPrefix+"CHROME"
}

// maxNodes bounds how many YAML nodes one load may visit, counting every
// expansion of an alias, so that alias bombs fail fast.
const maxNodes = 1 << 18

// Load reads the YAML file at path (none if path is ""), applies env on top
// (a list of "KEY=value" like os.Environ()), fills defaults and validates.
// Precedence is defaults < file < environment.
func Load(path string, env []string) (*Config, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	return LoadBytes(path, data, env)
}

// LoadBytes is Load with the file's contents given as data; name is used in
// error messages ("name:line: ..."). Empty data means no file.
func LoadBytes(name string, data []byte, env []string) (*Config, error) {
	l := &loader{name: name, src: map[string]string{}}
	cfg := Default()
	root, err := parseDocument(data)
	if err != nil {
		return nil, l.syntaxError(err)
	}
	if root != nil {
		d := decoder{l: l}
		d.decode(root, reflect.ValueOf(cfg).Elem(), "")
	}
	l.applyEnv(cfg, env)
	if err := joinErrors(l.errs); err != nil {
		return nil, err
	}
	cfg.Defaults()
	if err := cfg.validate(l.where); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loader is the state of one LoadBytes call.
type loader struct {
	name  string
	src   map[string]string // key path -> where its value came from
	errs  []error
	nodes int
	// exhausted is set once maxNodes was hit, so it is reported once.
	exhausted bool
}

// fileSource formats a position in the file; line 0 means the file as a
// whole.
func (l *loader) fileSource(line int) string {
	switch {
	case line <= 0:
		return l.name
	case l.name == "":
		return "line " + strconv.Itoa(line)
	}
	return l.name + ":" + strconv.Itoa(line)
}

// where returns the source of path or, failing that, of its nearest
// ancestor that has one.
func (l *loader) where(path string) string {
	for p := path; p != ""; p = parentPath(p) {
		if s, ok := l.src[p]; ok {
			return s
		}
	}
	return ""
}

// forget drops the sources recorded under path (not path itself), used when
// the environment replaces a list from the file.
func (l *loader) forget(path string) {
	for k := range l.src {
		if strings.HasPrefix(k, path+".") || strings.HasPrefix(k, path+"[") {
			delete(l.src, k)
		}
	}
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// parseDocument parses data as exactly one YAML document and returns its
// root node, or nil when there is no document.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("yaml: line %d: only one YAML document is allowed", extra.Line)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

// syntaxError turns a yaml parser error about the file ("yaml: line 3:
// msg") into an *Error located at that line when it has one.
func (l *loader) syntaxError(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, convErr := strconv.Atoi(num); convErr == nil && n > 0 {
				return &Error{Source: l.fileSource(n), Msg: "invalid YAML: " + after, Err: err}
			}
		}
	}
	return &Error{Source: l.fileSource(0), Msg: "invalid YAML: " + msg, Err: err}
}

// decoder decodes YAML nodes into Config values by reflection, driven by
// the yaml struct tags, recording where each key path came from.
type decoder struct {
	l *loader
	// env is the environment variable being decoded, "" for the file.
	env string
}

func (d *decoder) source(n *yaml.Node) string {
	if d.env != "" {
		return d.env
	}
	return d.l.fileSource(n.Line)
}

func (d *decoder) fail(n *yaml.Node, path string, cause error, format string, args ...any) {
	d.l.errs = append(d.l.errs, &Error{Source: d.source(n), Path: path, Msg: fmt.Sprintf(format, args...), Err: cause})
}

// resolve follows aliases and charges the node budget; nil means stop.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		d.l.nodes++
		n = n.Alias
	}
	d.l.nodes++
	if d.l.nodes > maxNodes {
		if !d.l.exhausted {
			d.l.exhausted = true
			d.l.errs = append(d.l.errs, &Error{Source: d.source(&yaml.Node{}), Msg: "document too large (too many nodes or alias expansions)"})
		}
		return nil
	}
	return n
}

func isDuration(t reflect.Type) bool { return t == reflect.TypeFor[Duration]() }

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	// An alias is located where it is written; what it expands to is
	// located at its anchor.
	written := n
	if n = d.resolve(n); n == nil {
		return
	}
	if path != "" {
		d.l.src[path] = d.source(written)
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// An explicit null means "not set": zero, so Defaults applies.
		v.SetZero()
		return
	}
	switch {
	case isDuration(v.Type()):
		if !d.scalar(n, path, "a duration such as 10m or 720h") {
			return
		}
		dur, err := parseDuration(n.Value)
		if err != nil {
			d.fail(n, path, err, "%q is not a valid duration; use Go syntax such as 60s, 10m or 720h", n.Value)
			return
		}
		v.Set(reflect.ValueOf(dur))
	case v.Kind() == reflect.String:
		if d.scalar(n, path, "a string") {
			v.SetString(n.Value)
		}
	case v.CanInt():
		if !d.scalar(n, path, "a whole number") {
			return
		}
		i, err := strconv.ParseInt(strings.TrimSpace(n.Value), 10, 64)
		if err == nil && v.OverflowInt(i) {
			err = strconv.ErrRange
		}
		if errors.Is(err, strconv.ErrRange) {
			d.fail(n, path, err, "%q is out of range", n.Value)
			return
		}
		if err != nil {
			d.fail(n, path, err, "%q is not a whole number", n.Value)
			return
		}
		v.SetInt(i)
	case v.CanUint():
		if !d.scalar(n, path, "a whole number") {
			return
		}
		bits := v.Type().Bits()
		u, err := strconv.ParseUint(strings.TrimSpace(n.Value), 10, bits)
		if err != nil {
			d.fail(n, path, err, "%q is not a whole number between 0 and %d", n.Value, uint64(1)<<bits-1)
			return
		}
		v.SetUint(u)
	case v.Kind() == reflect.Bool:
		if !d.scalar(n, path, "true or false") {
			return
		}
		switch strings.TrimSpace(n.Value) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.fail(n, path, nil, "%q must be true or false", n.Value)
		}
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.String:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, nil, "must be a mapping (key: value), got %s", kindName(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := d.resolve(n.Content[i]), d.resolve(n.Content[i+1])
			if k == nil || val == nil {
				return
			}
			if k.Kind != yaml.ScalarNode || val.Kind != yaml.ScalarNode {
				d.fail(n.Content[i], path, nil, "keys and values must be strings")
				return
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), reflect.ValueOf(val.Value).Convert(v.Type().Elem()))
		}
		v.Set(m)
	case v.Kind() == reflect.Slice:
		d.decodeSlice(n, v, path)
	case v.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			what := "must be a mapping (key: value)"
			if path == "" {
				what = "the top level " + what
			}
			d.fail(n, path, nil, "%s, got %s", what, kindName(n))
			return
		}
		d.decodeStruct(n, v, path, true)
	default:
		// Unreachable for Config's types; reported rather than panicking.
		d.fail(n, path, nil, "unsupported field type %s", v.Type())
	}
}

// scalar reports whether n is a scalar, recording an error if not.
func (d *decoder) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind == yaml.ScalarNode {
		return true
	}
	d.fail(n, path, nil, "must be %s, got %s", want, kindName(n))
	return false
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, nil, "must be a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), path+"["+strconv.Itoa(i)+"]")
		if d.l.exhausted {
			return
		}
	}
	v.Set(s)
}

// decodeStruct decodes mapping n into struct v. Merge keys (<<) are applied
// first so the mapping's own keys win; explicit reports whether n is the
// mapping written at path (rather than one merged into it), for duplicate
// detection.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, explicit bool) {
	fields := yamlFields(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			return
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil || d.l.exhausted {
			return
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, nil, "keys must be strings, got %s", kindName(k))
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, path, ErrUnknownKey, "unknown key %q", k.Value)
			continue
		}
		if seen[k.Value] && explicit {
			d.fail(k, path, nil, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		d.decode(n.Content[i+1], v.Field(idx), joinPath(path, k.Value))
	}
}

// merge applies the value of a merge key: a mapping or a list of mappings.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	if n = d.resolve(n); n == nil {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		d.decodeStruct(n, v, path, false)
	case yaml.SequenceNode:
		// Earlier mappings win, so apply them last.
		for _, item := range slices.Backward(n.Content) {
			if item = d.resolve(item); item == nil {
				return
			}
			if item.Kind != yaml.MappingNode {
				d.fail(item, path, nil, "merge (<<) needs a mapping or a list of mappings, got %s", kindName(item))
				continue
			}
			d.decodeStruct(item, v, path, false)
		}
	default:
		d.fail(n, path, nil, "merge (<<) needs a mapping or a list of mappings, got %s", kindName(n))
	}
}

// yamlFields maps the yaml key of each exported field of struct type t to
// its index.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		if name, ok := yamlName(t.Field(i)); ok {
			m[name] = i
		}
	}
	return m
}

func yamlName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return "", false
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.DocumentNode:
		return "a document"
	}
	return "an alias"
}

func parseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("parse duration: %w", err)
	}
	return Duration(d), nil
}

// envVar describes one configuration environment variable.
type envVar struct {
	index []int  // field index path within Config
	path  string // key path, e.g. "tokens.access_token_ttl"
	list  bool   // a whole list (clients, users) given as a YAML sequence
}

// envVars derives the environment variables from Config's yaml tags.
func envVars() map[string]envVar {
	m := map[string]envVar{}
	var walk func(t reflect.Type, index []int, path string)
	walk = func(t reflect.Type, index []int, path string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok := yamlName(f)
			if !ok {
				continue
			}
			idx := append(slices.Clone(index), i)
			p := joinPath(path, name)
			if f.Type.Kind() == reflect.Struct && !isDuration(f.Type) {
				walk(f.Type, idx, p)
				continue
			}
			env := EnvPrefix + strings.ToUpper(strings.ReplaceAll(p, ".", "_"))
			m[env] = envVar{index: idx, path: p, list: f.Type.Kind() == reflect.Slice}
		}
	}
	walk(reflect.TypeFor[Config](), nil, "")
	return m
}

// EnvVars returns the sorted names of the environment variables Load
// applies (EnvConfig, which Load ignores, is not among them).
func EnvVars() []string {
	var names []string
	for name := range envVars() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// applyEnv applies the STEPUP_ variables in env to cfg. A later duplicate
// of a variable wins; an empty value counts as unset.
func (l *loader) applyEnv(cfg *Config, env []string) {
	vars := envVars()
	vals := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			vals[k] = v
		}
	}
	root := reflect.ValueOf(cfg).Elem()
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		if name == EnvConfig || isTestVariable(name) {
			continue
		}
		val := vals[name]
		ev, ok := vars[name]
		if !ok {
			l.errs = append(l.errs, &Error{Source: name, Msg: "unknown environment variable", Err: ErrUnknownKey})
			continue
		}
		if val == "" {
			continue
		}
		d := decoder{l: l, env: name}
		field := root.FieldByIndex(ev.index)
		// The variable replaces the file's value, so positions recorded
		// for the file's list elements no longer apply.
		l.forget(ev.path)
		if !ev.list {
			d.decode(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val}, field, ev.path)
			continue
		}
		n, err := parseDocument([]byte(val))
		if err != nil {
			l.errs = append(l.errs, &Error{Source: name, Path: ev.path, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err})
			continue
		}
		if n == nil || n.Kind != yaml.SequenceNode {
			l.errs = append(l.errs, &Error{Source: name, Path: ev.path, Msg: `must be a YAML or JSON sequence, e.g. [{"id": "app", ...}]`})
			continue
		}
		d.decode(n, field, ev.path)
	}
}
