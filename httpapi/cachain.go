package httpapi

// WithCAChain makes GET /api/federation/ca serve what chain returns at each
// request instead of the fixed chain given to NewFederationHandler, so that
// a CA whose intermediates change while the gateway runs is served as it
// is now.
func WithCAChain(chain func() string) FederationOption {
	return func(o *federationOptions) { o.caChain = chain }
}
