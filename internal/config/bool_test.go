package config

import (
	"strings"
	"testing"
)

func TestBooleansAndMaps(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        []string
		wantErr    string
		check      func(t *testing.T, c *Config)
	}{
		{name: "true and false are read", yaml: "par:\n  required: true\nclients:\n  - id: a\n    secret: s\n    redirect_uris: [https://a.example/cb]\n    allow_nnin: true\n",
			check: func(t *testing.T, c *Config) {
				if !c.PAR.Required || !c.Clients[0].AllowNNIN {
					t.Errorf("booleans not set: %+v", c.PAR)
				}
			}},
		{name: "a boolean from the environment", env: []string{"STEPUP_PAR_REQUIRED=true"},
			check: func(t *testing.T, c *Config) {
				if !c.PAR.Required {
					t.Error("STEPUP_PAR_REQUIRED=true not applied")
				}
			}},
		{name: "yes is not a boolean", yaml: "par:\n  required: yes\n", wantErr: "par.required"},
		{name: "an upstream's acr_map is read", yaml: "upstreams:\n  - name: bankid\n    issuer: https://idp.example\n    client_id: x\n    acr_map: {\"urn:bankid:bid;LOA=4\": high}\n",
			check: func(t *testing.T, c *Config) {
				if c.Upstreams[0].ACRMap["urn:bankid:bid;LOA=4"] != "high" {
					t.Errorf("acr_map = %v", c.Upstreams[0].ACRMap)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadBytes("test.yaml", []byte(tt.yaml), tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want mention of %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestCustomLevels(t *testing.T) {
	yaml := `acr:
  preset: custom
  default: urn:example:loa:2
  levels:
    - acr: urn:example:loa:1
      factors: 1
    - acr: urn:example:loa:2
      factors: 2
      max_age: 12h
      implies: [urn:example:loa:1]
    - acr: urn:example:loa:3
      any_of:
        - {factors: 2, methods: [passkey], phishing_resistant: true, device_bound: true}
        - {assurance: high, factors: 1}
      implies: [urn:example:loa:2]
`
	c, err := LoadBytes("acr.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.ACR.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Supported(), " "); got != "urn:example:loa:1 urn:example:loa:2 urn:example:loa:3" || p.Default != "urn:example:loa:2" {
		t.Fatalf("levels %q default %q", got, p.Default)
	}
	if l, _ := p.Lookup("urn:example:loa:3"); len(l.AnyOf) != 2 || l.AnyOf[1].Assurance != "high" {
		t.Fatalf("any_of not read: %+v", l)
	}
	for name, bad := range map[string]string{
		"levels without custom":      "acr:\n  levels:\n    - acr: x\n      factors: 1\n",
		"custom without levels":      "acr:\n  preset: custom\n",
		"implies an unknown level":   "acr:\n  preset: custom\n  levels:\n    - acr: x\n      implies: [y]\n",
		"a client floor not defined": "acr:\n  preset: custom\n  levels:\n    - acr: x\nclients:\n  - id: a\n    secret: s\n    redirect_uris: [https://a.example/cb]\n    min_acr: y\n",
	} {
		if _, err := LoadBytes("acr.yaml", []byte(bad), nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
