// Package scripts holds the shell scripts that install, run and test Thingpost
// (bootstrap.sh, run.sh, test.sh, smoke-gui.sh); its tests check what
// bootstrap.sh decides to install on machines it is shown through stand-in
// programs.
package scripts
