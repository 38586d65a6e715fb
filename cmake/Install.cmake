# What `cmake --install` puts where, one component per Debian package
# (cmake/Packaging.cmake): owb-server, owb-mint, owb-device. The paths are
# the ones the systemd units and docs/deploy.md name.
include(GNUInstallDirs)

# Man pages from each program's own --help (help2man, Debian package of the
# same name), so the page and the parser are the same text.
find_program(OWB_HELP2MAN help2man)
find_program(OWB_GZIP gzip)

function(owb_install_program target component description)
  install(TARGETS ${target} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${component})
  if(OWB_HELP2MAN AND OWB_GZIP AND NOT CMAKE_CROSSCOMPILING)
    set(page ${CMAKE_BINARY_DIR}/man/${target}.1.gz)
    # gzip -n: no name or time in the header, so the page is reproducible.
    add_custom_command(
      OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${OWB_HELP2MAN} --no-info --no-discard-stderr --name=${description}
              --output=${CMAKE_BINARY_DIR}/man/${target}.1 $<TARGET_FILE:${target}>
      COMMAND ${OWB_GZIP} -9nf ${CMAKE_BINARY_DIR}/man/${target}.1
      DEPENDS ${target}
      VERBATIM)
    add_custom_target(${target}-man ALL DEPENDS ${page})
    install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${component})
  endif()
endfunction()

set(owb_docdir ${CMAKE_INSTALL_DATAROOTDIR}/doc)
if(TARGET owb-server)
  owb_install_program(owb-server server "the owb provisioning server")
  install(FILES packaging/systemd/owb-server.service
          DESTINATION lib/systemd/system COMPONENT server)
  install(FILES README.md docs/server.md docs/deploy.md docs/protocol.md docs/threat-model.md
                docs/web-flow.md
          DESTINATION ${owb_docdir}/owb-server COMPONENT server)
endif()
if(TARGET owb-mint)
  owb_install_program(owb-mint mint "the owb factory tool: device keys, records, setup labels")
  install(FILES README.md docs/mint.md docs/protocol.md
          DESTINATION ${owb_docdir}/owb-mint COMPONENT mint)
endif()
if(TARGET owb-device)
  owb_install_program(owb-device device "the owb device agent")
  install(FILES packaging/systemd/owb-device.service
          DESTINATION lib/systemd/system COMPONENT device)
  install(FILES README.md docs/device.md docs/protocol.md
          DESTINATION ${owb_docdir}/owb-device COMPONENT device)
endif()
