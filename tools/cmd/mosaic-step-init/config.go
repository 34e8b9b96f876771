package main

import "encoding/json"

// caJSON is the part of step-ca's ca.json this command writes (see
// authority/config.Config in smallstep/certificates).
type caJSON struct {
	Root      string            `json:"root"`
	Crt       string            `json:"crt"`
	Key       string            `json:"key"`
	Address   string            `json:"address"`
	DNSNames  []string          `json:"dnsNames"`
	Logger    map[string]string `json:"logger"`
	DB        dbConfig          `json:"db"`
	Authority authority         `json:"authority"`
	TLS       tlsOptions        `json:"tls"`
}

// dbConfig is step-ca's database: it records used token ids, so that a
// token is never accepted twice, and the certificates issued.
type dbConfig struct {
	Type       string `json:"type"`
	DataSource string `json:"dataSource"`
}

// authority holds the provisioners and the backdate of notBefore.
type authority struct {
	Backdate     string        `json:"backdate"`
	Provisioners []provisioner `json:"provisioners"`
}

// provisioner is a JWK provisioner: step-ca checks tokens signed by Key
// (public) and renders certificates from the template file.
type provisioner struct {
	Type    string          `json:"type"`
	Name    string          `json:"name"`
	Key     json.RawMessage `json:"key"`
	Claims  claims          `json:"claims"`
	Options provOptions     `json:"options"`
}

// claims are the provisioner's limits. Renewal through step-ca is off (a
// peer renews through the gateway), SSH is off, and step's own provisioner
// extension is left out of the certificates.
type claims struct {
	MinTLSCertDuration         string `json:"minTLSCertDuration"`
	MaxTLSCertDuration         string `json:"maxTLSCertDuration"`
	DefaultTLSCertDuration     string `json:"defaultTLSCertDuration"`
	DisableRenewal             bool   `json:"disableRenewal"`
	EnableSSHCA                bool   `json:"enableSSHCA"`
	DisableSmallstepExtensions bool   `json:"disableSmallstepExtensions"`
}

// provOptions names the provisioner's X.509 template.
type provOptions struct {
	X509 struct {
		TemplateFile string `json:"templateFile"`
	} `json:"x509"`
}

// tlsOptions are the versions step-ca's own TLS server offers.
type tlsOptions struct {
	MinVersion    float64 `json:"minVersion"`
	MaxVersion    float64 `json:"maxVersion"`
	Renegotiation bool    `json:"renegotiation"`
}

// caConfig returns the ca.json of a CA directory.
func caConfig(o *options, l *layout, publicKey []byte) *caJSON {
	p := provisioner{
		Type: "JWK",
		Name: o.provisioner,
		Key:  publicKey,
		Claims: claims{
			MinTLSCertDuration:         o.minLifetime.String(),
			MaxTLSCertDuration:         o.maxLifetime.String(),
			DefaultTLSCertDuration:     o.defaultLifetime.String(),
			DisableRenewal:             true,
			EnableSSHCA:                false,
			DisableSmallstepExtensions: true,
		},
	}
	p.Options.X509.TemplateFile = l.template
	return &caJSON{
		Root:     l.rootCert,
		Crt:      l.interCert,
		Key:      l.interKey,
		Address:  o.address,
		DNSNames: o.dnsNames,
		Logger:   map[string]string{"format": "json"},
		DB:       dbConfig{Type: "bbolt", DataSource: l.db},
		Authority: authority{
			Backdate:     o.backdate.String(),
			Provisioners: []provisioner{p},
		},
		TLS: tlsOptions{MinVersion: 1.2, MaxVersion: 1.3},
	}
}
