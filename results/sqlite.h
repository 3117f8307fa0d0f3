// A thin RAII layer over the sqlite3 C API: a connection, prepared statements
// with bound parameters (values never enter SQL text), and transactions that
// roll back unless committed. Errors are laco::Error naming the database file.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace laco::sql {

/// A cell: NULL, integer, real or text.
using Value = std::variant<std::monostate, int64_t, double, std::string>;

class Statement;

class Connection {
 public:
  enum class Mode {
    kReadOnly,   ///< SQLITE_OPEN_READONLY plus PRAGMA query_only: nothing can be written
    kReadWrite,  ///< the file must exist
    kCreate,     ///< created when absent
    /// Read-only on a file taken as unchanging: no locks, and no -wal or -shm
    /// file is created next to it. Only for files without a -wal or -journal
    /// (whose content it would ignore); for inspecting files not yet trusted.
    kImmutable,
  };
  /// Opens `path`; every connection waits up to `busy_ms` for another writer.
  Connection(const std::string& path, Mode mode, int busy_ms = 30000);
  ~Connection();
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one or more statements that return no rows (schema, pragmas).
  void exec(const std::string& sql);
  /// Compiles exactly one statement; trailing text other than whitespace and
  /// comments is an error, so a second statement cannot ride along.
  Statement prepare(const std::string& sql);
  /// The first column of the first row of a one-statement query (NULL when there is no row).
  Value scalar(const std::string& sql);
  /// Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  /// Throws laco::Error "PATH: CONTEXT: sqlite message" for a failed call.
  [[noreturn]] void raise(const std::string& context) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement(const Connection& connection, sqlite3_stmt* stmt, std::string sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// Parameters are 1-based, as in SQLite.
  Statement& bind(int index, const Value& value);
  Statement& bind(int index, int64_t value) { return bind(index, Value(value)); }
  Statement& bind(int index, int value) { return bind(index, Value(static_cast<int64_t>(value))); }
  Statement& bind(int index, double value) { return bind(index, Value(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, Value(value)); }
  Statement& bind(int index, const char* value) { return bind(index, Value(std::string(value))); }

  /// Advances to the next row; false when done.
  bool step();
  /// Steps to completion (for statements that return no rows).
  void run();
  /// Ready to run again with new bindings.
  void reset();

  /// False when running it could write a file: INSERT, UPDATE, DELETE,
  /// CREATE, VACUUM (also VACUUM INTO), PRAGMAs that change state.
  bool read_only() const;
  int columns() const;
  std::string column_name(int column) const;
  Value value(int column) const;
  bool is_null(int column) const;
  int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;

 private:
  const Connection* connection_;
  sqlite3_stmt* stmt_;
  std::string sql_;
};

/// Usage: Transaction t(db); ...; t.commit();  // rolled back if commit() is not reached
class Transaction {
 public:
  /// BEGIN IMMEDIATE: takes the write lock now, so a concurrent writer waits
  /// for the busy timeout instead of failing halfway through.
  explicit Transaction(Connection& connection);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& connection_;
  bool open_ = true;
};

/// For messages and plain output: NULL as "", reals in full precision.
std::string to_text(const Value& value);
/// A cell as JSON: null, an integer, a number or a string.
nlohmann::json to_json(const Value& value);
/// Whether the database has a table of that name (tables of later schema versions may be absent).
bool table_exists(Connection& db, const std::string& table);

}  // namespace laco::sql
