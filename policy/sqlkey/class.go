package sqlkey

// Byte kinds for the scanner's dispatch.
const (
	cOther  = iota
	cSpace  // space, \t, \n, \r, \f, \v
	cIdent  // identifier start: A-Z a-z _ and every byte >= 0x80
	cDigit  // 0-9
	cQuote  // '
	cDQuote // "
	cDash   // -
	cSlash  // /
	cDot    // .
	cDollar // $
)

// kind classifies each byte; identCont says whether a byte can continue an
// identifier (PostgreSQL's ident_cont: A-Z a-z 0-9 _ $ and bytes >= 0x80).
var kind, identCont = func() (k [256]uint8, ic [256]bool) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c >= 0x80:
			k[c], ic[c] = cIdent, true
		case c >= '0' && c <= '9':
			k[c], ic[c] = cDigit, true
		case c == '$':
			k[c], ic[c] = cDollar, true
		}
	}
	for _, c := range " \t\n\r\f\v" {
		k[c] = cSpace
	}
	k['\''], k['"'], k['-'], k['/'], k['.'] = cQuote, cDQuote, cDash, cSlash, cDot
	return k, ic
}()
