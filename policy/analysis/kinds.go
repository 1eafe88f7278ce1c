package analysis

// kindSet is a set of kinds, one bit per entry of kindOrder.
type kindSet uint16

// kindOrder lists every kind in sorted order; a kind's bit is its index.
var kindOrder = [...]Kind{
	KindCopyFrom,     // copy_from
	KindCopyTo,       // copy_to
	KindDDL,          // ddl
	KindDelete,       // delete
	KindFunctionCall, // function_call
	KindGrant,        // grant
	KindInsert,       // insert
	KindMerge,        // merge
	KindProcedural,   // procedural
	KindRoleChange,   // role_change
	KindSelect,       // select
	KindSet,          // set
	KindTransaction,  // transaction
	KindUpdate,       // update
	KindUtility,      // utility
}

const (
	kCopyFrom kindSet = 1 << iota
	kCopyTo
	kDDL
	kDelete
	kFunctionCall
	kGrant
	kInsert
	kMerge
	kProcedural
	kRoleChange
	kSelect
	kSet
	kTransaction
	kUpdate
	kUtility
)

// list returns the kinds in s, sorted; utility when s is empty, so that a
// statement is never without a kind.
func (s kindSet) list() []Kind {
	if s == 0 {
		s = kUtility
	}
	out := make([]Kind, 0, 4)
	for i, k := range kindOrder {
		if s&(1<<i) != 0 {
			out = append(out, k)
		}
	}
	return out
}
