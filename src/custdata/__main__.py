from custdata.cli import main

main()
