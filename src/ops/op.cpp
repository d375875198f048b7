#include "ops/op.h"

namespace vkai {

const char* op_name(Op op) {
    switch (op) {
#define VKAI_OP_NAME(name) \
    case Op::name: return #name;
        VKAI_OPS(VKAI_OP_NAME)
#undef VKAI_OP_NAME
    }
    return "?";
}

} // namespace vkai
