# visft_add_plugin(<name> SOURCES <src>... [LINK_LIBRARIES <lib>...] [OUTPUT_DIRECTORY <dir>]
#                  [INSTALL_DESTINATION <dir>])
#
# Builds one visft plugin: a MODULE library <name>.so linked against visft::visft, exporting only what
# VT_PLUGIN_EXPORT marks (the descriptor), and installs it. Used by the built-in plugins (plugins/*/*/)
# and, through find_package(visft), by plugins built out of tree.
#   In the visft tree:  output in the build tree's plugins/ (found by the build-tree visft), installed to
#                       <prefix>/<libdir>/visft/plugins (found by the installed visft).
#   Out of tree:        output in the current binary dir, installed to <your prefix>/<libdir>/visft/plugins
#                       (point VISFT_PLUGIN_PATH at it, or pass INSTALL_DESTINATION ${VISFT_PLUGIN_DIR}).
include_guard(GLOBAL)
include(GNUInstallDirs)

function(visft_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY;INSTALL_DESTINATION" "SOURCES;LINK_LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "visft_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT ARG_OUTPUT_DIRECTORY)
    if(DEFINED VISFT_PLUGIN_BUILD_DIR)
      set(ARG_OUTPUT_DIRECTORY "${VISFT_PLUGIN_BUILD_DIR}")
    else()
      set(ARG_OUTPUT_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
    endif()
  endif()
  if(NOT ARG_INSTALL_DESTINATION)
    set(ARG_INSTALL_DESTINATION "${CMAKE_INSTALL_LIBDIR}/visft/plugins")
  endif()

  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE visft::visft ${ARG_LINK_LIBRARIES})
  # Hidden by default: a plugin exports its descriptor and nothing that could clash with another plugin.
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}"
    INSTALL_RPATH "$ORIGIN/../..")
  install(TARGETS ${name} LIBRARY DESTINATION "${ARG_INSTALL_DESTINATION}")
endfunction()
