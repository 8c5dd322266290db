// validate.js checks one HAR file against the HAR 1.2 JSON schema shipped by
// har-validator. Usage: node validate.js FILE. Exit 0: valid; 1: invalid (the
// schema errors are printed); 2: the file could not be read or parsed.
'use strict'

const fs = require('fs')
const validate = require('har-validator')

const file = process.argv[2]
if (!file) {
  console.error('usage: node validate.js FILE.har')
  process.exit(2)
}

let data
try {
  data = JSON.parse(fs.readFileSync(file, 'utf8'))
} catch (err) {
  console.error(`${file}: ${err.message}`)
  process.exit(2)
}

validate.har(data).then(
  () => {
    console.log(`${file}: valid HAR (${data.log.entries.length} entries)`)
  },
  (err) => {
    console.error(`${file}: ${err.message}`)
    for (const e of err.errors || []) {
      console.error(`  ${e.dataPath || '(root)'}: ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`)
    }
    process.exit(1)
  }
)
