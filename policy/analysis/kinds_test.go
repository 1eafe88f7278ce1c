package analysis

import (
	"slices"
	"testing"
)

func TestKindOrder(t *testing.T) {
	if !slices.IsSorted(kindOrder[:]) {
		t.Fatalf("kindOrder is not sorted: %v", kindOrder)
	}
	for i, want := range []struct {
		bit  kindSet
		kind Kind
	}{
		{kCopyFrom, KindCopyFrom}, {kCopyTo, KindCopyTo}, {kDDL, KindDDL}, {kDelete, KindDelete},
		{kFunctionCall, KindFunctionCall}, {kGrant, KindGrant}, {kInsert, KindInsert}, {kMerge, KindMerge},
		{kProcedural, KindProcedural}, {kRoleChange, KindRoleChange}, {kSelect, KindSelect}, {kSet, KindSet},
		{kTransaction, KindTransaction}, {kUpdate, KindUpdate}, {kUtility, KindUtility},
	} {
		if got := want.bit.list(); len(got) != 1 || got[0] != want.kind {
			t.Errorf("bit %d: got %v, want [%s]", i, got, want.kind)
		}
	}
	if got := kindSet(0).list(); !slices.Equal(got, []Kind{KindUtility}) {
		t.Errorf("empty set: got %v, want [utility]", got)
	}
}
