# Turns one SPIR-V file into a .cpp with a byte array: cmake -DIN=x.spv -DOUT=x.cpp -DNAME=sym -P embed_spirv.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
# Break lines every 32 bytes so compilers and editors stay happy.
string(REGEX REPLACE "((0x..,){32})" "\\1\n" body "${body}")
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by embed_spirv.cmake; do not edit.\n#include <cstddef>\n"
  "alignas(4) extern const unsigned char vkai_spv_${NAME}[] = {\n${body}\n};\n"
  "extern const size_t vkai_spv_${NAME}_size = ${bytes};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
