import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { nameProblem } from '../../../src/transfer/index.js'
import { numberedName } from '../../../src/transfer/names.js'

describe('file names from the network (§8.5)', () => {
  const hostile = [
    '',
    '.',
    '..',
    '../etc/passwd',
    '..\\..\\boot.ini',
    '/etc/passwd',
    'C:\\Windows\\win.ini',
    'C:evil',
    'a/b',
    'sub\\file',
    'CON',
    'con.txt',
    'Nul',
    'COM1.log',
    'lpt9',
    'aux .c',
    'CONOUT$',
    'name\u0000.txt',
    'tab\tname',
    'new\nline',
    'bell\u0007',
    'del\u007f',
    'c1\u0085',
    'gpj.\u202eexe',
    'trailing.',
    'trailing ',
    ' leading',
    'a<b',
    'pipe|',
    'what?',
    'star*',
    'quote"',
    'x'.repeat(256),
    'é'.repeat(128),
  ]
  for (const name of hostile) {
    test(`refuses ${JSON.stringify(name).slice(0, 40)}`, () => {
      assert.notEqual(nameProblem(name), null)
    })
  }
  const fine = [
    'photo.jpg',
    'Résumé 2026.pdf',
    '.bashrc',
    'archive.tar.gz',
    '日本語.txt',
    'console.log',
    'x'.repeat(255),
  ]
  for (const name of fine) {
    test(`accepts ${name.slice(0, 40)}`, () => assert.equal(nameProblem(name), null))
  }
  test('numbered names keep the extension', () => {
    assert.equal(numberedName('a.txt', 0), 'a.txt')
    assert.equal(numberedName('a.txt', 2), 'a (2).txt')
    assert.equal(numberedName('.bashrc', 1), '.bashrc (1)')
    assert.equal(numberedName('noext', 1), 'noext (1)')
  })
})
