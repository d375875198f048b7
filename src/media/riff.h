// The declared length of a RIFF/WAVE file's audio, read from its chunk headers. FFmpeg's wav demuxer
// keeps the data chunk's size to itself and reports a length estimated from the file size, so a
// truncated WAV would look complete without this.
#pragma once

#include "media/byte_source.h"

#include <cstdint>
#include <optional>

namespace vkai::media {

// Byte size of the first "data" chunk of a RIFF/WAVE input, when it has one with a real size.
// Sizes written by streaming writers that did not know the length (0, >= 0x7FFFF000) give nullopt.
std::optional<uint64_t> riff_data_size(ByteSource& src);

} // namespace vkai::media
