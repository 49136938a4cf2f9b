# loopsep_engine: the separation pipeline (song → beats → segments → model → masks → stem) and harvest.
# Included from the top-level CMakeLists after the libraries it builds on.
file(GLOB LOOPSEP_ENGINE_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_LIST_DIR}/src/engine*.cpp ${CMAKE_CURRENT_LIST_DIR}/src/harvest*.cpp)
add_library(loopsep_engine ${LOOPSEP_ENGINE_SOURCES})
target_include_directories(loopsep_engine PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
target_compile_options(loopsep_engine PRIVATE ${LOOPSEP_WARNINGS})
target_link_libraries(loopsep_engine PUBLIC loopsep_audio loopsep_beat loopsep_loops loopsep_catalog loopsep_model)

# Benchmark: quality (SDR vs ideal ratio mask and mixture, ablations) and speed on synth songs.
add_executable(bench_separate ${PROJECT_SOURCE_DIR}/bench/separate/bench_separate.cpp)
target_compile_options(bench_separate PRIVATE ${LOOPSEP_WARNINGS})
target_link_libraries(bench_separate PRIVATE loopsep_engine nlohmann_json::nlohmann_json)
