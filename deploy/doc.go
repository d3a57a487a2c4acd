// Package deploy holds tests for the deployment files at the repository root.
package deploy
