// Package sqlkey derives decision-cache keys from SQL text: the text with
// each literal constant replaced by a placeholder. Two texts share a key only
// when they lex to the same tokens apart from the values of simple literals;
// anything the lexer cannot prove simple makes the text uncacheable.
package sqlkey
