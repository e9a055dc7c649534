# Run after each link of pathbench_tests (tests/CMakeLists.txt): lists the doctest cases with their
# source file and test suite, and writes CTEST_FILE with one ctest entry per case, named
# "<tier>: <case>", labelled with its tier:
#   - the case's doctest test suite when it names a tier (TEST_SUITE_BEGIN("realmq") or
#     `* doctest::test_suite("realmq")`): per-case, next to the case's own skip guard;
#   - else its file's tier from UNIT_FILES / LOOPBACK_FILES;
#   - else DEFAULT_TIER (a new file nobody has mapped yet).
# Cases of SERIAL_FILES get RUN_SERIAL (they measure time and must not share the cores). Every
# entry is marked skipped when it prints "MESSAGE: SKIP: " (tests/skip_guard.h).
# Inputs (-D): TEST_EXECUTABLE, TEST_WORKING_DIR, CTEST_FILE, TIERS, DEFAULT_TIER, UNIT_FILES,
# LOOPBACK_FILES, SERIAL_FILES, TIER_PROPERTIES_<tier> (extra properties per tier, name;value...).
cmake_minimum_required(VERSION 3.22)

execute_process(COMMAND "${TEST_EXECUTABLE}" --list-test-cases --reporters=xml
  OUTPUT_VARIABLE listing RESULT_VARIABLE result WORKING_DIRECTORY "${TEST_WORKING_DIR}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "listing the cases of ${TEST_EXECUTABLE} failed (${result}):\n${listing}")
endif()

function(xml_unescape out text)
  string(REPLACE "&quot;" "\"" text "${text}")
  string(REPLACE "&apos;" "'" text "${text}")
  string(REPLACE "&lt;" "<" text "${text}")
  string(REPLACE "&gt;" ">" text "${text}")
  string(REPLACE "&amp;" "&" text "${text}")
  string(REPLACE "<pathbench-semicolon>" ";" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

set(script "")
set(count 0)
# A ';' in a case name would split it in CMake's lists: carried as a placeholder until written.
string(REPLACE ";" "<pathbench-semicolon>" listing "${listing}")
string(REGEX MATCHALL "<TestCase [^\n]*/>" cases "${listing}")
foreach(line IN LISTS cases)
  if(NOT line MATCHES " name=\"([^\"]*)\"")
    continue()
  endif()
  xml_unescape(name "${CMAKE_MATCH_1}")
  set(suite "")
  if(line MATCHES " testsuite=\"([^\"]*)\"")
    set(suite "${CMAKE_MATCH_1}")
  endif()
  set(file "")
  if(line MATCHES " filename=\"([^\"]*)\"")
    get_filename_component(file "${CMAKE_MATCH_1}" NAME)
  endif()

  if(suite IN_LIST TIERS)
    set(tier "${suite}")
  elseif(file IN_LIST UNIT_FILES)
    set(tier unit)
  elseif(file IN_LIST LOOPBACK_FILES)
    set(tier loopback)
  else()
    set(tier "${DEFAULT_TIER}")
  endif()
  set(properties WORKING_DIRECTORY "${TEST_WORKING_DIR}" LABELS ${tier} SKIP_REGULAR_EXPRESSION "MESSAGE: SKIP: "
    ${TIER_PROPERTIES_${tier}})
  if(file IN_LIST SERIAL_FILES)
    list(APPEND properties RUN_SERIAL TRUE)
  endif()

  # The case name as ctest shows it, and as doctest's filter takes it (commas separate filters).
  if(name MATCHES "^${tier}: ")
    set(test "${name}")
  else()
    set(test "${tier}: ${name}")
  endif()
  string(REPLACE "," "\\," filter "${name}")
  set(args "")
  foreach(arg IN LISTS properties)
    string(APPEND args " [==[${arg}]==]")
  endforeach()
  string(APPEND script "add_test([==[${test}]==] [==[${TEST_EXECUTABLE}]==] [==[--test-case=${filter}]==])\n"
    "set_tests_properties([==[${test}]==] PROPERTIES${args})\n")
  math(EXPR count "${count} + 1")
endforeach()

if(count EQUAL 0)
  message(FATAL_ERROR "no test cases listed by ${TEST_EXECUTABLE}:\n${listing}")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
