#include "results/sqlite.h"

#include <sqlite3.h>

#include <cctype>

#include <fmt/format.h>

#include "harness/base/error.h"

namespace laco::sql {
namespace {

// Only whitespace and SQL comments may follow the one statement prepared.
bool only_comments(const char* tail) {
  const char* p = tail;
  while (*p) {
    if (std::isspace(static_cast<unsigned char>(*p))) {
      ++p;
    } else if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') ++p;
    } else if (p[0] == '/' && p[1] == '*') {
      p += 2;
      while (*p && !(p[0] == '*' && p[1] == '/')) ++p;
      if (*p) p += 2;
    } else if (*p == ';') {
      ++p;
    } else {
      return false;
    }
  }
  return true;
}

// "file:" URI for a path: everything but unreserved characters and '/' percent-encoded.
std::string file_uri(const std::string& path, const std::string& query) {
  std::string out = "file:";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out + "?" + query;
}

std::string shorten(const std::string& sql) {
  std::string one_line;
  for (char c : sql) one_line += c == '\n' ? ' ' : c;
  return one_line.size() > 100 ? one_line.substr(0, 97) + "..." : one_line;
}

}  // namespace

Connection::Connection(const std::string& path, Mode mode, int busy_ms) : path_(path) {
  int flags = SQLITE_OPEN_NOMUTEX;
  std::string name = path;
  if (mode == Mode::kImmutable) {
    flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
    name = file_uri(path, "mode=ro&immutable=1");
  } else if (mode == Mode::kReadOnly) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE | (mode == Mode::kCreate ? SQLITE_OPEN_CREATE : 0);
  }
  const int rc = sqlite3_open_v2(name.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    fail("{}: cannot open database: {}", path, message);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_ms);
  if (mode == Mode::kReadOnly || mode == Mode::kImmutable) exec("PRAGMA query_only = ON");
  exec("PRAGMA foreign_keys = ON");
}

Connection::~Connection() {
  if (db_) sqlite3_close_v2(db_);
}

Connection::Connection(Connection&& other) noexcept : db_(other.db_), path_(std::move(other.path_)) {
  other.db_ = nullptr;
}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close_v2(db_);
    db_ = other.db_;
    path_ = std::move(other.path_);
    other.db_ = nullptr;
  }
  return *this;
}

void Connection::raise(const std::string& context) const {
  fail("{}: {}: {}", path_, context, db_ ? sqlite3_errmsg(db_) : "no connection");
}

void Connection::exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    fail("{}: {} (in: {})", path_, message, shorten(sql));
  }
}

Statement Connection::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, &tail) != SQLITE_OK)
    fail("{}: {} (in: {})", path_, sqlite3_errmsg(db_), shorten(sql));
  Statement statement(*this, stmt, sql);
  if (!stmt) fail("{}: empty SQL statement", path_);
  if (tail && !only_comments(tail)) fail("{}: one SQL statement at a time (extra text: {})", path_, shorten(tail));
  return statement;
}

Value Connection::scalar(const std::string& sql) {
  auto stmt = prepare(sql);
  return stmt.step() ? stmt.value(0) : Value();
}

int64_t Connection::changes() const { return sqlite3_changes(db_); }

Statement::Statement(const Connection& connection, sqlite3_stmt* stmt, std::string sql)
    : connection_(&connection), stmt_(stmt), sql_(std::move(sql)) {}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : connection_(other.connection_), stmt_(other.stmt_), sql_(std::move(other.sql_)) {
  other.stmt_ = nullptr;
}

Statement& Statement::bind(int index, const Value& value) {
  int rc = SQLITE_OK;
  if (std::holds_alternative<std::monostate>(value)) {
    rc = sqlite3_bind_null(stmt_, index);
  } else if (auto* i = std::get_if<int64_t>(&value)) {
    rc = sqlite3_bind_int64(stmt_, index, *i);
  } else if (auto* d = std::get_if<double>(&value)) {
    rc = sqlite3_bind_double(stmt_, index, *d);
  } else {
    const auto& s = std::get<std::string>(value);
    rc = sqlite3_bind_text(stmt_, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  if (rc != SQLITE_OK) connection_->raise(fmt::format("binding parameter {} of '{}'", index, shorten(sql_)));
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  connection_->raise(shorten(sql_));
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::read_only() const { return sqlite3_stmt_readonly(stmt_) != 0; }

int Statement::columns() const { return sqlite3_column_count(stmt_); }

std::string Statement::column_name(int column) const {
  const char* name = sqlite3_column_name(stmt_, column);
  return name ? name : "";
}

Value Statement::value(int column) const {
  switch (sqlite3_column_type(stmt_, column)) {
    case SQLITE_NULL:
      return {};
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_column_int64(stmt_, column));
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt_, column);
    default:
      return text(column);
  }
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string();
}

Transaction::Transaction(Connection& connection) : connection_(connection) { connection_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!open_) return;
  // Nothing useful can be done if the rollback itself fails (the connection
  // is closing or broken); SQLite rolls back on close anyway.
  sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  connection_.exec("COMMIT");
  open_ = false;
}

std::string to_text(const Value& value) {
  if (std::holds_alternative<std::monostate>(value)) return "";
  if (auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&value)) return fmt::format("{}", *d);
  return std::get<std::string>(value);
}

nlohmann::json to_json(const Value& value) {
  if (auto* i = std::get_if<int64_t>(&value)) return *i;
  if (auto* d = std::get_if<double>(&value)) return *d;
  if (auto* s = std::get_if<std::string>(&value)) return *s;
  return nullptr;
}

bool table_exists(Connection& db, const std::string& table) {
  auto q = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
  q.bind(1, table).step();
  return q.int64(0) != 0;
}

}  // namespace laco::sql
