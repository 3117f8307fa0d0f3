#include "harness/base/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/limits.h"
#include "harness/base/text.h"

namespace laco {
namespace {

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  size_t size;
};

const std::vector<DtypeInfo>& dtypes() {
  static const std::vector<DtypeInfo> table = {
      {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
      {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
      {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
      {"BOOL", torch::kBool, 1},
  };
  return table;
}

const DtypeInfo& dtype_by_name(const std::string& name, const std::string& where) {
  for (const auto& d : dtypes())
    if (name == d.name) return d;
  std::vector<std::string> allowed;
  for (const auto& d : dtypes()) allowed.push_back(d.name);
  fail("{}: unknown dtype '{}' (allowed: {})", where, name, join(allowed));
}

const DtypeInfo& dtype_by_type(torch::ScalarType type) {
  for (const auto& d : dtypes())
    if (type == d.type) return d;
  fail("safetensors: cannot store dtype {}", c10::toString(type));
}

uint64_t read_u64_le(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

uint64_t non_negative_int(const nlohmann::json& v, const std::string& where) {
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
    fail("{} must be a non-negative integer, got {}", where, v.dump());
  return v.get<uint64_t>();
}

Entry parse_entry(const std::string& src, const std::string& name, const nlohmann::json& v) {
  const std::string where = fmt::format("{}: tensor '{}'", src, name);
  if (!v.is_object()) fail("{}: header entry must be an object, got {}", where, v.dump());
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!v.contains(field)) fail("{}: missing field '{}'", where, field);
  if (!v["dtype"].is_string()) fail("{}: field 'dtype' must be a string", where);
  Entry e;
  e.name = name;
  e.dtype = &dtype_by_name(v["dtype"].get<std::string>(), where);
  if (!v["shape"].is_array()) fail("{}: field 'shape' must be an array", where);
  for (const auto& d : v["shape"]) {
    const uint64_t dim = non_negative_int(d, where + ": shape entry");
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("{}: shape entry {} is too large", where, dim);
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  const auto& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    fail("{}: field 'data_offsets' must be [begin, end], got {}", where, off.dump());
  e.begin = non_negative_int(off[0], where + ": data_offsets[0]");
  e.end = non_negative_int(off[1], where + ": data_offsets[1]");
  return e;
}

}  // namespace

SafeTensors SafeTensors::load(const std::string& path) {
  return parse(read_file_bytes(path, InputLimit::kDataBytes), path);
}

SafeTensors SafeTensors::parse(const std::string& bytes, const std::string& src) {
  if (bytes.size() < 8)
    fail("{}: short header: file has {} bytes, fewer than the 8-byte header length", src, bytes.size());
  const uint64_t header_len = read_u64_le(bytes.data());
  check_input_limit(InputLimit::kHeaderBytes, src + ": header", header_len);
  if (header_len > bytes.size() - 8)
    fail("{}: header length {} runs past the end of the file ({} bytes after the length field)", src,
         header_len, bytes.size() - 8);
  nlohmann::json header;
  const std::string problem =
      parse_json(std::string_view(bytes.data() + 8, static_cast<size_t>(header_len)), header);
  if (!problem.empty()) fail("{}: header is not valid JSON: {}", src, problem);
  if (!header.is_object()) fail("{}: header must be a JSON object", src);

  SafeTensors out;
  out.source_ = src;
  const uint64_t data_size = bytes.size() - 8 - header_len;
  const char* data = bytes.data() + 8 + header_len;

  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail("{}: __metadata__ must be an object of strings", src);
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) fail("{}: __metadata__ value '{}' must be a string, got {}", src, mk, mv.dump());
        out.metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(src, key, value));
  }

  for (const auto& e : entries) {
    if (e.begin > e.end || e.end > data_size)
      fail("{}: tensor '{}': data_offsets [{}, {}] out of range (data section has {} bytes)", src, e.name,
           e.begin, e.end, data_size);
    // numel * size must equal the span; computed in 128 bits, saturating past 2^64.
    constexpr unsigned __int128 kCap = std::numeric_limits<uint64_t>::max();
    unsigned __int128 need = e.dtype->size;
    for (int64_t d : e.shape) need = std::min(need * static_cast<uint64_t>(d), kCap + 1);
    if (need != e.end - e.begin) {
      std::vector<std::string> dims;
      for (int64_t d : e.shape) dims.push_back(std::to_string(d));
      fail("{}: tensor '{}': shape [{}] of {} needs {} bytes but data_offsets span {} bytes", src, e.name,
           join(dims), e.dtype->name,
           need > kCap ? std::string("over 2^64") : std::to_string(static_cast<uint64_t>(need)), e.end - e.begin);
    }
  }

  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  // Each non-empty tensor against the one reaching furthest among those that
  // start before it: a check against the previous entry alone missed an
  // overlap when a zero-length tensor sorted between the two.
  const Entry* reach = nullptr;
  for (const Entry& c : entries) {
    if (c.end == c.begin) continue;  // holds no bytes: overlaps nothing
    if (reach && c.begin < reach->end)
      fail("{}: tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", src, reach->name, reach->begin, reach->end, c.name,
           c.begin, c.end);
    if (!reach || c.end > reach->end) reach = &c;
  }

  for (const auto& e : entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), data + e.begin, e.end - e.begin);
    out.tensors_.emplace(e.name, std::move(t));
    out.order_.push_back(e.name);
  }
  return out;
}

const torch::Tensor& SafeTensors::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    fail("{}: no tensor named '{}' (the file holds {} tensors: {})", source_, name, order_.size(),
         join(order_));
  }
  return it->second;
}

std::string serialize_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> blobs;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") fail("safetensors: '__metadata__' is reserved and cannot name a tensor");
    if (header.contains(name)) fail("safetensors: tensor name '{}' appears twice", name);
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t n = t.numel() * t.element_size();
    header[name] = {{"dtype", dtype_by_type(t.scalar_type()).name},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + n}}};
    offset += n;
    blobs.push_back(std::move(t));
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // the format pads the header to 8 bytes
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  out += json;
  out.reserve(out.size() + offset);
  for (const auto& t : blobs) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomically(path, serialize_safetensors(tensors, metadata));
}

}  // namespace laco
