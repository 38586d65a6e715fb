# Runs the generator GEN into OUT and fails unless OUT equals WANT byte for
# byte (a vector file that no longer matches the code that made it).
execute_process(COMMAND ${GEN} OUTPUT_FILE ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${GEN} failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT} ${WANT} RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(FATAL_ERROR "${WANT} is not what ${GEN} prints now (see ${OUT})")
endif()
