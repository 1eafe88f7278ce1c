package analysis

import "strings"

// pureFunction reports whether a function (name as written, lower case) is
// a built-in, or a function of a common extension, whose result derives
// only from its arguments: it reads no table, file, large object, other
// session or query text. Any other function may return data the parse tree
// does not show (a SQL function selecting customers.ssn by id,
// query_to_xml, dblink), so a value it returns has unknown provenance.
//
// The check is by name: it assumes the function resolves to the built-in,
// so users whose output is masked must not be able to create functions
// (or to put their own schema before pg_catalog in search_path).
func pureFunction(name string) bool {
	if rest, ok := strings.CutPrefix(name, "pg_catalog."); ok {
		name = rest
	} else if strings.IndexByte(name, '.') >= 0 {
		return false
	}
	return pureFunctions[name]
}

var pureFunctions = func() map[string]bool {
	m := make(map[string]bool)
	for _, list := range []string{
		// Aggregates.
		`count sum avg min max array_agg string_agg json_agg jsonb_agg json_agg_strict jsonb_agg_strict
		json_object_agg jsonb_object_agg json_object_agg_strict jsonb_object_agg_strict
		json_object_agg_unique jsonb_object_agg_unique json_object_agg_unique_strict jsonb_object_agg_unique_strict
		bool_and bool_or every bit_and bit_or bit_xor stddev stddev_pop stddev_samp variance var_pop var_samp
		corr covar_pop covar_samp regr_avgx regr_avgy regr_count regr_intercept regr_r2 regr_slope regr_sxx
		regr_sxy regr_syy mode percentile_cont percentile_disc xmlagg any_value range_agg range_intersect_agg`,
		// Window functions.
		`row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value`,
		// Strings and binary strings.
		`ascii bit_length btrim char_length character_length chr concat concat_ws convert convert_from convert_to
		decode encode format initcap left length lower lpad ltrim md5 normalize is_normalized octet_length overlay
		position quote_ident quote_literal quote_nullable regexp_count regexp_instr regexp_like regexp_match
		regexp_matches regexp_replace regexp_split_to_array regexp_split_to_table regexp_substr repeat replace
		reverse right rpad rtrim split_part starts_with string_to_array string_to_table strpos substr substring
		to_ascii to_hex to_bin to_oct translate unistr upper casefold sha224 sha256 sha384 sha512 crc32 crc32c
		get_byte set_byte get_bit set_bit bit_count similar_to_escape like_escape textcat text_pattern_lt
		pg_column_size pg_column_compression num_nulls num_nonnulls pg_typeof pg_sleep`,
		// Numbers.
		`abs cbrt ceil ceiling degrees div exp factorial floor gcd lcm ln log log10 min_scale mod pi power pow
		radians round scale sign sqrt trim_scale trunc width_bucket random random_normal setseed acos acosd asin
		asind atan atand atan2 atan2d cos cosd cot cotd sin sind tan tand sinh cosh tanh asinh acosh atanh erf erfc`,
		// Dates and times.
		`age clock_timestamp current_date date_add date_bin date_part date_subtract date_trunc extract isfinite
		justify_days justify_hours justify_interval localtime localtimestamp make_date make_interval make_time
		make_timestamp make_timestamptz now statement_timestamp timeofday transaction_timestamp timezone
		to_char to_date to_number to_timestamp overlaps`,
		// JSON.
		`to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object json_build_array
		jsonb_build_array json_object jsonb_object json_array_length jsonb_array_length json_each jsonb_each
		json_each_text jsonb_each_text json_extract_path jsonb_extract_path json_extract_path_text
		jsonb_extract_path_text json_object_keys jsonb_object_keys json_populate_record jsonb_populate_record
		json_populate_recordset jsonb_populate_recordset json_to_record jsonb_to_record json_to_recordset
		jsonb_to_recordset json_array_elements jsonb_array_elements json_array_elements_text
		jsonb_array_elements_text json_typeof jsonb_typeof json_strip_nulls jsonb_strip_nulls jsonb_set
		jsonb_set_lax jsonb_insert jsonb_pretty jsonb_path_query jsonb_path_query_array jsonb_path_query_first
		jsonb_path_exists jsonb_path_match jsonb_path_query_tz jsonb_path_query_array_tz
		jsonb_path_query_first_tz jsonb_path_exists_tz jsonb_path_match_tz jsonb_populate_record_valid`,
		// Arrays and ranges.
		`array_append array_prepend array_cat array_dims array_fill array_length array_lower array_upper
		array_ndims array_position array_positions array_remove array_replace array_to_string cardinality
		unnest trim_array array_sample array_shuffle array_reverse array_sort generate_subscripts
		generate_series lower_inc upper_inc lower_inf upper_inf isempty range_merge int4range int8range
		numrange tsrange tstzrange daterange multirange`,
		// Types used as functions, conversions.
		`text varchar bpchar char name int2 int4 int8 float4 float8 numeric bool date time timetz timestamp
		timestamptz interval bytea json jsonb uuid inet cidr macaddr xml money`,
		// Network, UUID, XML, text search, misc.
		`host hostmask masklen netmask network broadcast family abbrev set_masklen inet_merge
		inet_same_family gen_random_uuid uuidv4 uuidv7 uuid_extract_timestamp uuid_extract_version
		xmlcomment xmltext xpath xpath_exists xml_is_well_formed xml_is_well_formed_document
		xml_is_well_formed_content xmlexists to_tsvector to_tsquery plainto_tsquery phraseto_tsquery
		websearch_to_tsquery ts_rank ts_rank_cd ts_headline setweight strip tsvector_to_array
		array_to_tsvector numnode querytree current_setting set_config pg_collation_for system_user
		current_user session_user current_role current_schema current_database merge_action`,
		// Common extensions: hstore, pgcrypto, pg_trgm, fuzzystrmatch, unaccent, uuid-ossp.
		`hstore akeys avals skeys svals each hstore_to_json hstore_to_jsonb hstore_to_array
		hstore_to_matrix slice exist defined delete digest hmac crypt gen_salt encrypt decrypt
		pgp_sym_encrypt pgp_sym_decrypt armor dearmor gen_random_bytes similarity word_similarity
		strict_word_similarity show_trgm soundex difference metaphone dmetaphone dmetaphone_alt
		levenshtein levenshtein_less_equal unaccent uuid_generate_v1 uuid_generate_v4`,
	} {
		for _, f := range strings.Fields(list) {
			m[f] = true
		}
	}
	return m
}()
