package store_test

import (
	"os"
	"testing"

	"mailhost/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
