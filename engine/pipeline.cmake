# loopsep_engine: the separation pipeline (song → beats → segments → model → masks → stem).
# Included from the top-level CMakeLists after the libraries it builds on, and only
# once all of them exist.
set(_engine_deps loopsep_audio loopsep_beat loopsep_loops loopsep_catalog loopsep_model)
set(_engine_ready TRUE)
foreach(dep ${_engine_deps})
  if(NOT TARGET ${dep})
    set(_engine_ready FALSE)
  endif()
endforeach()
if(_engine_ready AND (LOOPSEP_ENGINE_DEV OR EXISTS ${CMAKE_CURRENT_LIST_DIR}/src/engine.cpp))
  file(GLOB LOOPSEP_ENGINE_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/src/engine*.cpp ${CMAKE_CURRENT_LIST_DIR}/src/harvest*.cpp)
  if(LOOPSEP_ENGINE_DEV)  # work in progress kept out of everyone else's build
    file(GLOB _dev CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/src/dev/*.cpp)
    list(APPEND LOOPSEP_ENGINE_SOURCES ${_dev})
  endif()
  add_library(loopsep_engine ${LOOPSEP_ENGINE_SOURCES})
  target_include_directories(loopsep_engine PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
  target_compile_options(loopsep_engine PRIVATE ${LOOPSEP_WARNINGS})
  target_link_libraries(loopsep_engine PUBLIC ${_engine_deps})
else()
  message(STATUS "loopsep_engine: waiting for ${_engine_deps}")
endif()

# Benchmark: quality (SDR vs ideal ratio mask and mixture, ablations) and speed on synth songs.
if(TARGET loopsep_engine)
  add_executable(bench_separate ${PROJECT_SOURCE_DIR}/bench/separate/bench_separate.cpp)
  target_compile_options(bench_separate PRIVATE ${LOOPSEP_WARNINGS})
  target_link_libraries(bench_separate PRIVATE loopsep_engine nlohmann_json::nlohmann_json)
endif()
