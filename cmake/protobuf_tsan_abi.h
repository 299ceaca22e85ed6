// Force-included into every translation unit of a HIVE_SANITIZE=thread tree
// (cmake/sanitizers.cmake). Protobuf 3.21's map_field.h gives MapFieldBase two
// extra members when __SANITIZE_THREAD__ is defined, but Debian's libprotobuf
// is built without TSan: TSan-built code and the library then disagree on the
// layout of every map field (google.protobuf.Struct's fields first), and the
// first Struct built crashes. The header is read here once with the macro
// hidden, so its layout is the library's; its include guard keeps it so.
// Everything else (libstdc++, Abseil, gRPC) still sees __SANITIZE_THREAD__:
// <cstddef> is read first so libstdc++'s configuration keeps its TSan setting.
#include <cstddef>
#pragma push_macro("__SANITIZE_THREAD__")
#undef __SANITIZE_THREAD__
#include <google/protobuf/map_field.h>
#pragma pop_macro("__SANITIZE_THREAD__")
