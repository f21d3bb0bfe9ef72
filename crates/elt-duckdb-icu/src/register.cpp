// Describes the icu extension to DuckDB 2.0's duckdb_register_static_extension, as DuckDB's
// generated loader describes the json and parquet extensions it links.

#include "duckdb_static_extension.h"

namespace duckdb {
class ExtensionLoader;
}

extern "C" void icu_duckdb_cpp_init(duckdb::ExtensionLoader &loader);

extern "C" int32_t elt_duckdb_icu_describe(duckdb_extension_descriptor *descriptor) {
	if (descriptor->version < 1) {
		descriptor->set_error(descriptor, "the icu extension needs descriptor layout 1");
		return 1;
	}
	descriptor->version = 1;
	descriptor->name = "icu";
	descriptor->extension_version = "";
	descriptor->api_version = "v2.0.0";
	descriptor->entry_cpp = (void (*)(void))icu_duckdb_cpp_init;
	return 0;
}
