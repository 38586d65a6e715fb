# Debian packages with CPack: `cpack -G DEB` in a build directory makes
# owb-server_<v>_<arch>.deb, owb-mint_... and owb-device_..., one per
# install component (cmake/Install.cmake). Their library dependencies come
# from dpkg-shlibdeps, so they install with apt-get on Debian and
# Raspberry Pi OS alike. tests/deb.sh builds, installs and runs them.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME owb)
set(CPACK_PACKAGE_VENDOR "omega-wifi-bootstrap")
set(CPACK_PACKAGE_CONTACT "omega-wifi-bootstrap maintainers <owb@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Put headless devices on Wi-Fi securely")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/omega-wifi-bootstrap/owb")
set(CPACK_COMPONENTS_ALL server mint device)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME owb-server)
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "owb provisioning server\n Hands sealed Wi-Fi bundles to the phones that set devices up, with a\n SQLite or PostgreSQL store, behind a TLS proxy. See\n /usr/share/doc/owb-server/deploy.md.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/owb-server/postinst)
set(CPACK_DEBIAN_MINT_PACKAGE_NAME owb-mint)
set(CPACK_COMPONENT_MINT_DESCRIPTION
    "owb factory tool\n Mints device keys, key files, server records and setup labels.")
set(CPACK_DEBIAN_DEVICE_PACKAGE_NAME owb-device)
set(CPACK_COMPONENT_DEVICE_DESCRIPTION
    "owb device agent\n Takes a sealed Wi-Fi bundle from a phone over its own setup access point\n and joins the network (NetworkManager on Debian and Raspberry Pi OS).")
set(CPACK_DEBIAN_DEVICE_PACKAGE_DEPENDS "network-manager")
set(CPACK_DEBIAN_DEVICE_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/owb-device/postinst)
include(CPack)
